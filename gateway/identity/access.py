"""Per-app access at every authorization, and what an app's tokens say about the organisation:
the gateway gathers the facts (roles, groups, department, linked department logins) in one
database session and ``policies/access.py`` decides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gateway.identity.account_cache import AccountCache
from gateway.identity.claims import subject_for
from gateway.identity.client_policy import DEFAULT_POLICY, RESERVED_CLAIMS, PolicyDocument
from gateway.identity.login_systems import LoginSystemService
from gateway.identity.otp import OtpService
from gateway.identity.passkeys import PasskeyService
from policies.access import AccessFacts, Decision, decide_access, scoped_role_counts
from policies.assurance import meets, multi_factor, stronger
from policies.authorization import (  # noqa: F401 (where the gateway has always found them)
    ADMIN_SCOPES,
    ENTERPRISE_SCOPE,
    PRIVILEGED_SCOPES,
    privileged,
)
from store import client_policies, organisation, roles
from store.clock import Clock
from store.database import Database
from store.records import Account, Client


def city_wide_app(client: Client) -> bool:
    """Whether only city-wide administrators may change the app: its tokens reach beyond its
    department (privileged scopes, the admin API, introspecting every app's tokens, CAS proxy
    tickets that sign a person in to other apps)."""
    return (
        bool(privileged(client.scopes))
        or client.admin_console
        or client.resource_server
        or client.cas_proxy
    )


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    org: Organisation
    document: PolicyDocument
    stronger_methods: frozenset[str]  # department logins that would satisfy a step-up


@dataclass(frozen=True)
class Organisation:
    """An account as one app may see it inside the organisation."""

    roles: tuple[str, ...]  # this app's roles and the global roles it may see
    scoped_roles: dict[str, list[str]]  # role -> department paths, for roles held in subtrees
    groups: tuple[str, ...]
    department: str | None  # path
    linked: tuple[str, ...]  # provider ids of linked department logins


class AccessService:
    def __init__(
        self,
        database: Database,
        login_systems: LoginSystemService,
        otp: OtpService,
        passkeys: PasskeyService,
        clock: Clock,
        cache_seconds: float,
        account_cache: AccountCache | None = None,
    ) -> None:
        self._db = database
        self._account_cache = account_cache  # organisation facts from memory, when it listens
        self._login_systems = login_systems
        self._otp = otp
        self._passkeys = passkeys
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[PolicyDocument, float]] = {}

    async def policy(self, client_id: str) -> PolicyDocument:
        """The client's policy document (the default admits every account), cached per
        instance for ``cache_seconds`` like client records."""
        now = self._clock.now()
        cached = self._cache.get(client_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self._db.sessions() as session:
            stored = await client_policies.get_policy(session, client_id)
        document = DEFAULT_POLICY
        if stored is not None:
            try:
                document = PolicyDocument.model_validate(stored.document)
            except ValidationError:
                # Stored by an older version and no longer valid: admit nobody.
                document = PolicyDocument(kinds=[])
        if self._cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[client_id] = (document, now + self._cache_seconds)
        return document

    def forget(self, client_id: str) -> None:
        self._cache.pop(client_id, None)

    async def organisation(
        self, account: Account, client_id: str, document: PolicyDocument
    ) -> tuple[Organisation, dict[str, str]]:
        """The account as this app sees it, and the paths of the departments the policy names
        (read in the same database session)."""
        wanted = [d for d in (*document.departments, account.department_id) if d]
        if self._account_cache is not None:
            stored = await self._account_cache.facts(account.id, client_id, wanted)
        else:
            stored = await organisation.read_account_facts(self._db, account.id, client_id, wanted)
        facts = stored.at(self._clock.now())
        department = facts.paths.get(account.department_id) if account.department_id else None
        visible_global = set(document.claims.global_roles) | set(document.roles)
        admitted = [facts.paths.get(d, f"/\0missing/{d}") for d in document.departments]
        names: set[str] = set()
        scoped: dict[str, list[str]] = {}
        for owner, name, path in facts.roles:
            if owner == "" and name not in visible_global:
                continue
            if (
                owner == ""
                and path
                and not scoped_role_counts(path, facts.app_department, admitted)
            ):
                continue  # a global role held in a subtree the app is not about
            if path:
                scoped.setdefault(name, []).append(path)
            else:
                names.add(name)
        # A role held only inside subtrees counts as held (by the rule above); its scope travels.
        scoped = {name: where for name, where in scoped.items() if name not in names}
        names |= set(scoped)
        org = Organisation(
            roles=tuple(sorted(names)),
            scoped_roles={name: sorted(where) for name, where in scoped.items()},
            groups=tuple(facts.groups),
            department=department,
            linked=tuple(sorted(set(facts.linked))),
        )
        return org, facts.paths

    async def decide(
        self,
        account: Account,
        client_id: str,
        acr: str | None,
        amr: list[str],
        requested_acr: str | None = None,
        earlier_step_up: str | None = None,
        signed_in_again: bool = False,
        document: PolicyDocument | None = None,
        unfamiliar: bool = False,
        new_place_city_wide: bool = False,
    ) -> Verdict:
        """Whether ``account``, signed in at ``acr`` with ``amr``, may use the client now.
        ``requested_acr`` (from ``acr_values``) is voluntary (OIDC Core §3.1.2.1): it asks for
        a step-up only when one is possible, and never denies. ``earlier_step_up``: the check
        of a step-up this authorization already asked for. ``document``: a policy not yet
        saved, to preview what it would decide (otherwise the app's own). ``unfamiliar``: the
        session began on a new device in a new province; the city (``new_place_city_wide``) or
        the app's policy may then want a second factor."""
        if document is None:
            document = await self.policy(client_id)
        unfamiliar = unfamiliar and (new_place_city_wide or document.new_place_second_factor)
        org, paths = await self.organisation(account, client_id, document)
        policy = document.access(paths)
        systems_by_id = {s.id: s for s in await self._login_systems.all()}
        reachable = {"": account.assurance}  # how high each way of signing in goes
        for provider_id in org.linked:
            system = systems_by_id.get(provider_id)
            if system is not None:
                reachable[provider_id] = stronger(account.assurance, system.trust.assurance)

        def methods_for(level: str) -> frozenset[str]:
            if meets(acr, level):
                return frozenset()
            return frozenset(p for p, reached in reachable.items() if p and meets(reached, level))

        stronger_methods = methods_for(policy.min_acr)
        needs_second = policy.mfa or unfamiliar
        if needs_second and meets(acr, policy.min_acr) and not multi_factor(frozenset(amr)):
            second = await self.second_factors(account.id)
            stronger_methods = second or stronger_methods  # a second factor is a step away
        facts = AccessFacts(
            kind=account.kind,
            acr=acr or "L1",
            account_assurance=stronger(*reachable.values()),
            amr=frozenset(amr),
            roles=frozenset(org.roles),
            groups=frozenset(org.groups),
            department=org.department,
            stronger_methods=stronger_methods,
            requested_acr=requested_acr,
            requested_methods=methods_for(requested_acr) if requested_acr else frozenset(),
            earlier_step_up=earlier_step_up,
            signed_in_again=signed_in_again,
            unfamiliar=unfamiliar,
        )
        decision = decide_access(policy, facts)
        if decision.check == "acr_values":
            return Verdict(decision, org, document, facts.requested_methods)
        return Verdict(decision, org, document, stronger_methods)

    async def second_factors(self, account_id: str) -> frozenset[str]:
        """The second steps the account can take: ``otp`` (the authenticator app) and
        ``passkey`` (one that verifies the person counts as a second factor, RFC 8176)."""
        methods = {"otp"} if await self._otp.enrolled(account_id) else set()
        if await self._passkeys.has_any(account_id):
            methods.add("passkey")
        return frozenset(methods)

    async def admin_scopes(self, account_id: str) -> dict[str, list[str]]:
        """The admin scopes an account holds (as global roles ``admin:read`` / ``admin:write``),
        each with the department paths it is limited to (``[""]``: everywhere)."""
        async with self._db.sessions() as session:
            held = await roles.held_roles(session, account_id, [""], self._clock.now())
        scopes: dict[str, list[str]] = {}
        for role, path in held:
            if role.name in ADMIN_SCOPES:
                scopes.setdefault(role.name, []).append(path)
        return scopes


def claims_of(org: Organisation) -> dict[str, Any]:
    """The organisation as an app's tokens show it."""
    claims: dict[str, Any] = {}
    if org.roles:
        claims["roles"] = list(org.roles)
    if org.scoped_roles:
        claims["role_scopes"] = org.scoped_roles
    if org.groups:
        claims["groups"] = list(org.groups)
    if org.department:
        claims["department"] = org.department
    return claims


async def app_claims(
    services: Any,
    account: Account,
    client: Client,
    org: Organisation,
    document: PolicyDocument,
    act_for: str | None,
) -> dict[str, Any]:
    """Everything an app's tokens carry beyond the standard claims: its view of the
    organisation, the enterprise acted for, and the restricted claims an admin approved it
    for (the person's national ID number; the enterprise's credit code when acting for one)."""
    claims = claims_of(org)
    restricted = set(document.claims.restricted)
    if act_for is not None:
        delegation = await services.delegations.active(account.id, act_for)
        enterprise = await services.accounts.get(act_for)
        if delegation is not None and enterprise is not None:
            claims["org"] = {
                "sub": subject_for(client, enterprise.id, services.pairwise_key),
                "name": enterprise.name,
                "position": delegation.position,
                "roles": list(delegation.roles),
            }
            if "uscc" in restricted:
                found = await services.federation.verified_identifiers(enterprise.id, {"uscc"})
                claims.update(found)
    if "national_id" in restricted:
        claims.update(await services.federation.verified_identifiers(account.id, {"national_id"}))
    rename = document.claims.rename
    renamed = {rename.get(name, name): value for name, value in claims.items()}
    # Policies stored before names were checked cannot reach a token's own claims either.
    return {name: value for name, value in renamed.items() if name not in RESERVED_CLAIMS}
