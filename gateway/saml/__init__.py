"""一号通 as a SAML 2.0 identity provider (pysaml2, the optional extra ``[saml]``)."""
