"""What a client registration may contain. Pure: returns the first problem as (field, reason)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from policies.cas_services import service_hosts, service_urls_problem
from policies.redirect_uris import (
    https_or_loopback_problem,
    is_loopback_host,
    redirect_uri_problem,
)

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 §3.4
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 (RFC 8693)
PROTOCOLS = ("oidc", "cas", "saml")
GRANT_TYPES = (
    "authorization_code",
    "refresh_token",
    "client_credentials",
    DEVICE_CODE,
    TOKEN_EXCHANGE,
)
CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
# jwt: RFC 9068, checked by anyone with the JWKS; opaque: a random reference that only this
# gateway can resolve (introspection, userinfo), so no claim leaves it and revoking is instant.
ACCESS_TOKEN_FORMATS = ("jwt", "opaque")
JWT, OPAQUE = ACCESS_TOKEN_FORMATS
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,128}$")

Problem = tuple[str, str]


def registration_problem(
    *,
    name: str,
    public: bool,
    redirect_uris: Sequence[str],
    post_logout_redirect_uris: Sequence[str],
    backchannel_logout_uri: str | None,
    grant_types: Sequence[str],
    token_endpoint_auth_method: str | None,
    scopes: Sequence[str],
    frontchannel_logout_uri: str | None = None,
    subject_type: str = "public",
    sector_identifier: str | None = None,
    access_token_format: str = JWT,
    resource_server: bool = False,
    protocol: str = "oidc",
    service_urls: Sequence[str] = (),
    cas_options: bool = False,
    sp_metadata: str = "",
) -> Problem | None:
    """The first problem of a registration; ``cas_options``: whether a CAS-only option (proxy,
    CAS 1.0) is set."""
    if not name.strip() or len(name) > 200:
        return ("name", "a client needs a name of 1 to 200 characters")
    if protocol not in PROTOCOLS:
        return ("protocol", f"use one of {', '.join(PROTOCOLS)}")
    if protocol == "cas":
        return _cas_problem(
            redirect_uris or post_logout_redirect_uris or grant_types,
            backchannel_logout_uri or frontchannel_logout_uri,
            service_urls,
        ) or _subject_problem(subject_type, sector_identifier, _service_origins(service_urls))
    if protocol == "saml":
        return _saml_problem(
            redirect_uris or post_logout_redirect_uris or grant_types,
            backchannel_logout_uri or frontchannel_logout_uri or service_urls or cas_options,
            sp_metadata,
        )
    if sp_metadata:
        return ("sp_metadata", "SP metadata is for apps of protocol saml")
    if service_urls or cas_options:
        return ("service_urls", "service URLs and CAS options are for apps of protocol cas")
    return (
        _grant_problem(public, grant_types, redirect_uris)
        or _uri_problem(
            public,
            redirect_uris,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            frontchannel_logout_uri,
        )
        or _subject_problem(subject_type, sector_identifier, redirect_uris)
        or _authentication_problem(public, token_endpoint_auth_method)
        or _token_problem(public, access_token_format, resource_server, scopes)
    )


def _service_origins(service_urls: Sequence[str]) -> list[str]:
    return [f"https://{host}/" for host in service_hosts(service_urls)]


def _cas_problem(
    oauth_fields: object, oidc_logout: object, service_urls: Sequence[str]
) -> Problem | None:
    """A CAS app is found by its service URLs; OAuth grants and redirect URIs are not its own."""
    if oauth_fields:
        return ("grant_type", "a CAS app has no OAuth grant types or redirect URIs")
    if oidc_logout:
        return ("backchannel_logout_uri", "a CAS app is logged out at its service URL")
    if problem := service_urls_problem(service_urls):
        return ("service_urls", problem)
    return None


def _saml_problem(oauth_fields: object, other_fields: object, sp_metadata: str) -> Problem | None:
    """A SAML app is found by its metadata's entity ID and answered at its own endpoints."""
    if oauth_fields:
        return ("grant_type", "a SAML app has no OAuth grant types or redirect URIs")
    if other_fields:
        return ("sp_metadata", "a SAML app takes its endpoints from its SP metadata only")
    if not sp_metadata.strip():
        return ("sp_metadata", "a SAML app needs its SP metadata")
    return None


def _grant_problem(
    public: bool, grant_types: Sequence[str], redirect_uris: Sequence[str]
) -> Problem | None:
    for grant in grant_types:
        if grant not in GRANT_TYPES:
            return (
                "grant_type",
                f"{grant!r} is not supported; use one of {', '.join(GRANT_TYPES)}",
            )
    if not grant_types:
        return ("grant_type", "a client needs at least one grant type")
    if public and "client_credentials" in grant_types:
        return ("grant_type", "a public client cannot use client_credentials (RFC 6749 §4.4)")
    if public and TOKEN_EXCHANGE in grant_types:
        return ("grant_type", "a public client cannot exchange tokens (RFC 8693 §2.1)")
    if "authorization_code" in grant_types and not redirect_uris:
        return ("redirect_uri", "the authorization_code grant needs at least one redirect URI")
    if "refresh_token" in grant_types and not {"authorization_code", DEVICE_CODE} & set(
        grant_types
    ):
        return ("grant_type", "refresh_token is only issued with authorization_code or device_code")
    return None


def _uri_problem(
    public: bool,
    redirect_uris: Sequence[str],
    post_logout_redirect_uris: Sequence[str],
    backchannel_logout_uri: str | None,
    frontchannel_logout_uri: str | None,
) -> Problem | None:
    for uri in redirect_uris:
        if problem := redirect_uri_problem(uri, allow_private_use_scheme=public, native=public):
            return ("redirect_uri", f"{uri} {problem}")
    for uri in post_logout_redirect_uris:
        if problem := redirect_uri_problem(uri, allow_private_use_scheme=public):
            return ("post_logout_redirect_uri", f"{uri} {problem}")
    if backchannel_logout_uri and (problem := https_or_loopback_problem(backchannel_logout_uri)):
        return ("backchannel_logout_uri", f"{backchannel_logout_uri} {problem}")
    if frontchannel_logout_uri and (problem := https_or_loopback_problem(frontchannel_logout_uri)):
        return ("frontchannel_logout_uri", f"{frontchannel_logout_uri} {problem}")
    return None


def _subject_problem(
    subject_type: str, sector_identifier: str | None, redirect_uris: Sequence[str]
) -> Problem | None:
    if subject_type not in ("public", "pairwise"):
        return ("subject_type", "use public or pairwise")
    hosts = {urlsplit(uri).hostname for uri in redirect_uris}
    native = any(host is None or is_loopback_host(host) for host in hosts)
    if subject_type == "pairwise" and sector_identifier is None and len(hosts) > 1 and not native:
        # OIDC Core §8.1: else adding a host would change every subject. (An app with a
        # loopback or private-scheme redirect is a sector of its own: claims.sector_of.)
        return (
            "sector_identifier",
            "pairwise clients with several redirect hosts need one (the host they share)",
        )
    if sector_identifier is not None:
        if subject_type != "pairwise":
            return ("sector_identifier", "a sector identifier only matters with pairwise subjects")
        if not _HOSTNAME.match(sector_identifier):
            return ("sector_identifier", "a sector identifier is a host name, e.g. tax.city.gov.cn")
    return None


def _authentication_problem(public: bool, token_endpoint_auth_method: str | None) -> Problem | None:
    if public and token_endpoint_auth_method not in (None, "none"):
        return ("token_endpoint_auth_method", "a public client authenticates with 'none' only")
    if not public and token_endpoint_auth_method not in (None, *CONFIDENTIAL_AUTH_METHODS):
        return (
            "token_endpoint_auth_method",
            f"use one of {', '.join(CONFIDENTIAL_AUTH_METHODS)} (or --public for 'none')",
        )
    return None


def _token_problem(
    public: bool, access_token_format: str, resource_server: bool, scopes: Sequence[str]
) -> Problem | None:
    if access_token_format not in ACCESS_TOKEN_FORMATS:
        return ("access_token_format", f"use one of {', '.join(ACCESS_TOKEN_FORMATS)}")
    if resource_server and public:
        # RFC 7662 §2.1: introspection needs the protected resource's own authentication.
        return ("resource_server", "a resource server must be a confidential client")
    return scope_problem(scopes)


def scope_problem(scopes: Sequence[str]) -> Problem | None:
    for scope in scopes:
        if not _SCOPE_TOKEN.match(scope):
            return ("scope", f"{scope!r} is not a valid scope token (RFC 6749 §3.3)")
    return None


def own_sector_problem(sector_identifier: str | None, redirect_uris: Sequence[str]) -> str | None:
    """Why an app's owner may not choose this sector (None: it may). OIDC Core §8.1 lets a
    sector span several hosts only through a sector_identifier_uri the sector publishes; without
    one it is the one host every redirect URI shares, else an app takes another's subjects."""
    if sector_identifier is None:
        return None
    hosts = {urlsplit(uri).hostname for uri in redirect_uris}
    if hosts != {sector_identifier} or is_loopback_host(sector_identifier):
        return (
            "must be the one host all of the app's redirect URIs share; only a city-wide "
            "administrator sets another sector"
        )
    return None
