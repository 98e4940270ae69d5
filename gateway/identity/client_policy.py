"""A client's policy document as admins write it: who may use the app (kinds, roles, groups,
departments, assurance, MFA) and what its tokens say (roles it may see, restricted claims it was
approved for, claim names it wants). Validated here; decided by ``policies/access.py``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from policies.access import ACCOUNT_KINDS, AccessPolicy

Kind = Literal["person", "legal_person", "staff"]
Level = Literal["L1", "L2", "L3"]
RestrictedClaim = Literal["national_id", "uscc"]
OrganisationClaim = Literal[
    "roles", "role_scopes", "groups", "department", "org", "national_id", "uscc"
]
_NAME = r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$"
# Names a token defines for itself (RFC 7519, RFC 9068, RFC 8693, OIDC Core §2, §5.1, ...).
RESERVED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "typ", "cty", "cnf", "act", "may_act"}
    | {"scope", "client_id", "azp", "nonce", "auth_time", "acr", "amr", "sid", "at_hash"}
    | {"c_hash", "s_hash", "events", "claims", "_claim_names", "_claim_sources"}
    | {"name", "given_name", "family_name", "middle_name", "nickname", "preferred_username"}
    | {"profile", "picture", "website", "email", "email_verified", "gender", "birthdate"}
    | {"zoneinfo", "locale", "phone_number", "phone_number_verified", "address", "updated_at"}
)


class ClaimsPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    global_roles: list[str] = Field(
        default_factory=list, description="Global roles this app may see in the roles claim."
    )
    restricted: list[RestrictedClaim] = Field(
        default_factory=list,
        description="Restricted claims an admin approved for this app (the full national ID "
        "number, the unified social credit code).",
    )
    rename: dict[OrganisationClaim, Annotated[str, StringConstraints(pattern=_NAME)]] = Field(
        default_factory=dict,
        description='Claim names this app wants, e.g. {"roles": "authorities"}; never a name '
        "that JWT, OAuth or OpenID Connect define.",
    )

    @field_validator("rename")
    @classmethod
    def _not_a_registered_claim(cls, rename: dict[str, str]) -> dict[str, str]:
        # A renamed claim must never stand in for iss, aud, nonce, sub, ... of a signed token.
        taken = sorted(set(rename.values()) & RESERVED_CLAIMS)
        if taken:
            raise ValueError(f"{', '.join(taken)} cannot be used: defined by JWT/OAuth/OIDC")
        if len(set(rename.values())) != len(rename) or set(rename.values()) & set(
            OrganisationClaim.__args__
        ):
            raise ValueError("two claims cannot take the same name")
        return rename


class PolicyDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: list[Kind] = Field(
        default_factory=lambda: sorted(ACCOUNT_KINDS), description="Account kinds admitted."
    )
    roles: list[str] = Field(
        default_factory=list,
        description="The account needs one of these roles (of this app or global); empty: no rule.",
    )
    groups: list[str] = Field(default_factory=list, description="The account needs one of these.")
    departments: list[str] = Field(
        default_factory=list,
        description="Department ids; the account must work inside one of their subtrees.",
    )
    min_acr: Level = Field("L1", description="The lowest assurance level admitted.")
    mfa: bool = Field(False, description="Multi-factor sign-in is required.")
    act_for: bool = Field(
        False, description="Staff may act for an enterprise they were delegated by."
    )
    new_place_second_factor: bool = Field(
        False,
        description="A sign-in from a new device in a new province must add the second factor "
        "before this app (as YIHAOTONG_NEW_PLACE_SECOND_FACTOR does for every app).",
    )
    claims: ClaimsPolicy = Field(default_factory=ClaimsPolicy)

    def access(self, department_paths: dict[str, str]) -> AccessPolicy:
        """The pure policy, with department ids resolved to paths (an unknown id admits
        nobody rather than everybody)."""
        return AccessPolicy(
            kinds=frozenset(self.kinds),
            roles=frozenset(self.roles),
            groups=frozenset(self.groups),
            departments=tuple(department_paths.get(d, f"/\0missing/{d}") for d in self.departments),
            min_acr=self.min_acr,
            mfa=self.mfa,
        )


DEFAULT_POLICY = PolicyDocument()
