"""What the admin API reads and writes, as pydantic models: they validate requests (unknown
fields are refused) and are the source of the OpenAPI document's schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.identity.client_policy import PolicyDocument
from policies.clients import GRANT_TYPES

MAX_LIMIT = 200
DepartmentId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
GroupId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
RoleName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")]
Uri = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500)]
ScopeToken = Annotated[str, StringConstraints(pattern=r"^[\x21\x23-\x5B\x5D-\x7E]{1,128}$")]
GrantType = Literal[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:token-exchange",
]
assert set(GRANT_TYPES) == set(GrantType.__args__)  # type: ignore[attr-defined]


def when(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(Model):
    total: int = Field(description="How many match, across all pages.")
    offset: int
    limit: int


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    offset: int = Field(0, ge=0, le=1_000_000_000)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(
        None, description="Each invalid field: its location (pydantic's loc) and what is wrong."
    )


class FieldError(BaseModel):
    loc: list[str | int]
    field: str
    message: str


# -- accounts -------------------------------------------------------------------------------------


class AccountOut(Model):
    id: str
    username: str
    name: str | None
    phone: str | None
    email: str | None
    disabled: bool
    kind: str
    assurance: str
    department_id: str | None
    created_at: datetime
    updated_at: datetime


class AccountPage(Page):
    items: list[AccountOut]


class AccountQuery(PageQuery):
    username: str | None = Field(None, max_length=64, description="Usernames starting so.")
    department_id: str | None = Field(None, max_length=32)
    disabled: bool | None = None
    kind: Literal["person", "legal_person", "staff"] | None = None
    name: str | None = Field(None, max_length=200, description="Names containing this.")


class AccountPatch(Model):
    disabled: bool | None = Field(
        None, description="Disabling also ends every SSO session of the account."
    )
    department_id: DepartmentId | None = Field(
        None, description="Where the person works (null: nowhere)."
    )


class LinkOut(Model):
    provider_id: str
    subject: str
    first_login_at: datetime
    last_login_at: datetime


class LinkList(Model):
    items: list[LinkOut]


class UnlinkQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    subject: str | None = Field(
        None, max_length=255, description="One subject only (default: every link to it)."
    )


class SessionOut(Model):
    sid: str
    created_at: datetime
    auth_time: datetime
    last_seen: datetime
    acr: str
    amr: list[str]
    idp: str
    ip: str
    region: dict[str, str]  # kind (public, private, loopback, unknown), country, province, city
    user_agent: str
    clients: list[str]


class AppDeviceOut(Model):
    """An installation of one of the city's own apps (a refresh token family)."""

    device_id: str
    client_id: str
    device_name: str
    first_used_at: datetime
    last_used_at: datetime
    dpop_jkt: str | None = Field(None, description="The DPoP key's thumbprint (RFC 7638).")


class AppDeviceList(Model):
    items: list[AppDeviceOut]


class SessionList(Model):
    items: list[SessionOut]


class Count(Model):
    count: int


# -- clients and policies -------------------------------------------------------------------------


class ClientOut(Model):
    client_id: str
    client_name: str
    public: bool
    token_endpoint_auth_method: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    backchannel_logout_uri: str | None
    frontchannel_logout_uri: str | None
    subject_type: str
    sector_identifier: str | None
    grant_types: list[str]
    scopes: list[str]
    require_consent: bool
    access_token_format: str
    resource_server: bool
    admin_console: bool
    protocol: str
    service_urls: list[str]
    cas_proxy: bool
    cas_v1: bool
    dpop_bound_access_tokens: bool
    require_pushed_authorization_requests: bool
    sp_metadata: str | None = None
    requests_per_minute: int = 0
    department_id: str | None
    state: str = Field(description="draft, live, suspended or retired: only a live app is used.")
    created_at: datetime
    updated_at: datetime


class ClientCreated(ClientOut):
    client_secret: str | None = Field(description="Shown now and never again (null: public).")


class ClientPage(Page):
    items: list[ClientOut]


class ClientQuery(PageQuery):
    department_id: str | None = Field(None, max_length=32)
    name: str | None = Field(None, max_length=200, description="Names containing this.")


class ClientChanges(Model):
    client_name: Name | None = None
    redirect_uris: list[Uri] | None = Field(None, max_length=50)
    post_logout_redirect_uris: list[Uri] | None = Field(None, max_length=50)
    backchannel_logout_uri: Uri | None = None
    frontchannel_logout_uri: Uri | None = None
    subject_type: Literal["public", "pairwise"] | None = Field(
        None,
        description="pairwise (the default: a different `sub` per sector, OIDC Core §8.1) or "
        "public (the account id everywhere; city-wide administrators only, with a "
        "subject_type_reason).",
    )
    subject_type_reason: Reason | None = Field(
        None, description="Why the app needs the public subject (required then; audited)."
    )
    sector_identifier: str | None = Field(None, max_length=255)
    sector_reason: Reason | None = Field(
        None, description="Why the app shares another department's pairwise sector (audited)."
    )
    grant_types: list[GrantType] | None = Field(None, min_length=1, max_length=len(GRANT_TYPES))
    scopes: list[ScopeToken] | None = Field(None, max_length=50)
    require_consent: bool | None = None
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post"] | None = None
    access_token_format: Literal["jwt", "opaque"] | None = Field(
        None,
        description="jwt (RFC 9068, checked locally with the JWKS) or opaque (a reference only "
        "introspection and userinfo resolve; no claims on the wire, revoked at once).",
    )
    resource_server: bool | None = Field(
        None,
        description="A protected resource (an API): may introspect access tokens issued to "
        "other clients (RFC 7662 §2.1).",
    )
    admin_console: bool | None = Field(
        None,
        description="Designated for administration: the admin API accepts this app's tokens "
        "(city-wide administrators only).",
    )
    dpop_bound_access_tokens: bool | None = Field(
        None,
        description="Token requests must carry a DPoP proof, and its access tokens are bound "
        "to the proof's key (RFC 9449 §5.2).",
    )
    require_pushed_authorization_requests: bool | None = Field(
        None,
        description="Authorization requests must come through the pushed authorization request "
        "endpoint (RFC 9126 §6).",
    )
    department_id: DepartmentId | None = Field(
        None, description="The department that owns the app (its administrators manage it)."
    )
    requests_per_minute: int | None = Field(
        None,
        ge=0,
        le=1_000_000,
        description="Requests the app may make each minute at each of the token, introspection "
        "and UserInfo endpoints (429 past it); 0: the gateway's default "
        "(`YIHAOTONG_CLIENT_REQUESTS_PER_MINUTE`).",
    )
    service_urls: list[Uri] | None = Field(
        None,
        max_length=50,
        description="CAS apps: exact service URLs, or prefixes ending in * (no regular "
        "expressions).",
    )
    cas_proxy: bool | None = Field(
        None, description="CAS apps: may receive proxy-granting tickets (CAS 3.0 §2.5.4)."
    )
    cas_v1: bool | None = Field(
        None, description="CAS apps: may validate tickets with /cas/validate (CAS 1.0)."
    )
    sp_metadata: str | None = Field(
        None,
        max_length=200_000,
        description="SAML apps: the service provider's SAML 2.0 metadata (an EntityDescriptor).",
    )


class ClientCreate(ClientChanges):
    client_name: Name
    public: bool = Field(False, description="No secret: 'none' authentication and PKCE.")
    protocol: Literal["oidc", "cas", "saml"] = Field(
        "oidc", description="How the app signs people in: OpenID Connect, CAS or SAML 2.0."
    )
    state: Literal["draft", "live"] = Field("live", description="Put live later if draft.")


class SecretOut(Model):
    client_id: str
    client_secret: str = Field(description="Shown now and never again.")


class PolicyOut(Model):
    client_id: str
    version: int = Field(description="0 while the client has the default policy.")
    document: PolicyDocument
    updated_at: datetime | None


# -- platform -------------------------------------------------------------------------------------


class ProviderOut(Model):
    id: str
    type: str
    name: str
    position: int
    assurance: str | None = Field(description="None while it is unavailable.")
    trusted_for: list[str]
    verified: list[str]
    password: bool | None = Field(
        description="Whether it checks passwords on the sign-in page (None while unavailable)."
    )
    available: bool = Field(
        True, description="False when its stored settings cannot be used (see error)."
    )
    error: str | None = Field(None, description="Why it is unavailable (a field and a reason).")
    disabled: bool = Field(False, description="Disabled: not offered, its callback refuses.")


class ProviderList(Model):
    items: list[ProviderOut]


class ProviderCreate(Model):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")]
    type: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    config: dict[str, Any] = Field(description="The provider's settings (see docs/federation.md).")


class KeyOut(Model):
    kid: str
    alg: str
    state: str
    published: bool
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    publish_until: datetime | None


class KeyList(Model):
    items: list[KeyOut]


class RotateIn(Model):
    alg: Literal["RS256", "ES256", "EdDSA"] | None = None
    force: bool = Field(False, description="Rotate even if the next key is very new.")


class RotateOut(Model):
    alg: str
    rotated: bool
    active_kid: str
    next_kid: str


ProblemOut.model_rebuild()
