"""一号通 as a CAS server (CAS Protocol 3.0): login with the SSO session, ticket validation
with attributes, proxy tickets, logout and single logout."""
