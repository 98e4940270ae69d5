"""一号通 as a service provider to a department's SAML identity provider: where its metadata
and its AssertionConsumerService are, and its key pair (made once, like the IdP's)."""

from __future__ import annotations

from gateway.saml import idp
from gateway.server.settings import Settings
from providers.base import Site, SiteMaker

SP_METADATA_PATH = "/saml/sp/{provider_id}/metadata"
ACS_PATH = "/saml/sp/{provider_id}/acs"


def site_maker(settings: Settings) -> SiteMaker:
    """The gateway's side of each SAML department: the entity ID is the metadata's URL."""

    def site(provider_id: str) -> Site:
        key_file, cert_file = idp.key_pair(settings.data_dir / "saml", settings.issuer, "sp")
        return Site(
            entity_id=settings.issuer + SP_METADATA_PATH.format(provider_id=provider_id),
            answer_url=settings.issuer + ACS_PATH.format(provider_id=provider_id),
            key_file=key_file,
            cert_file=cert_file,
        )

    return site
