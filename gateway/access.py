"""Per-app access at every authorization, and what an app's tokens say about the organisation:
the gateway gathers the facts (roles, groups, department, linked department logins) in one
database session and ``policies/access.py`` decides."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from gateway.client_policy import DEFAULT_POLICY, PolicyDocument
from gateway.departments import DepartmentService
from policies.access import AccessFacts, Decision, decide_access
from policies.assurance import meets, rank, stronger
from store import client_policies, organisation, roles
from store.clock import Clock
from store.database import Database
from store.records import Account
from store.tables import LinkedIdentityRow

ADMIN_SCOPES = ("admin:read", "admin:write")


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
        departments: DepartmentService,
        clock: Clock,
        cache_seconds: float,
    ) -> None:
        self._db = database
        self._departments = departments
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
    ) -> Organisation:
        now = self._clock.now()
        async with self._db.sessions() as session:
            held = await roles.held_roles(session, account.id, [client_id, ""], now)
            groups = await organisation.groups_of(session, account.id)
            department = None
            if account.department_id:
                paths = await organisation.department_paths(session, [account.department_id])
                department = paths.get(account.department_id)
            linked = await session.scalars(
                select(LinkedIdentityRow.provider_id).where(
                    LinkedIdentityRow.account_id == account.id
                )
            )
            linked_ids = tuple(sorted(set(linked)))
        visible_global = set(document.claims.global_roles) | set(document.roles)
        names: set[str] = set()
        scoped: dict[str, list[str]] = {}
        for role, path in held:
            if role.client_id == "" and role.name not in visible_global:
                continue
            if path:
                scoped.setdefault(role.name, []).append(path)
            else:
                names.add(role.name)
        # A role held only inside subtrees still counts as held; its scope travels with it.
        names |= set(scoped)
        return Organisation(
            roles=tuple(sorted(names)),
            scoped_roles={name: sorted(paths) for name, paths in scoped.items()},
            groups=tuple(groups),
            department=department,
            linked=linked_ids,
        )

    async def decide(
        self,
        account: Account,
        client_id: str,
        acr: str | None,
        amr: list[str],
        requested_acr: str | None = None,
    ) -> tuple[Decision, Organisation]:
        """Whether ``account``, signed in at ``acr`` with ``amr``, may use the client now;
        ``requested_acr`` (from ``acr_values``) raises the level asked for, never lowers it."""
        document = await self.policy(client_id)
        org = await self.organisation(account, client_id, document)
        departments_by_id = {d.id: d for d in await self._departments.all()}
        async with self._db.sessions() as session:
            paths = await organisation.department_paths(session, document.departments)
        policy = document.access(paths)
        if requested_acr is not None and rank(requested_acr) > rank(policy.min_acr):
            policy = replace(policy, min_acr=requested_acr)
        reachable = [account.assurance]
        stronger_methods = set()
        for provider_id in org.linked:
            department = departments_by_id.get(provider_id)
            if department is None:
                continue
            level = stronger(account.assurance, department.trust.assurance)
            reachable.append(level)
            if meets(level, policy.min_acr) and not meets(acr, policy.min_acr):
                stronger_methods.add(provider_id)
        facts = AccessFacts(
            kind=account.kind,
            acr=acr or "L1",
            account_assurance=stronger(*reachable),
            amr=frozenset(amr),
            roles=frozenset(org.roles),
            groups=frozenset(org.groups),
            department=org.department,
            stronger_methods=frozenset(stronger_methods),
        )
        return decide_access(policy, facts), org

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


def claims_of(org: Organisation, document: PolicyDocument) -> dict[str, Any]:
    """Organisation claims for an app's tokens, renamed as the app asked."""
    claims: dict[str, Any] = {}
    if org.roles:
        claims["roles"] = list(org.roles)
    if org.scoped_roles:
        claims["role_scopes"] = org.scoped_roles
    if org.groups:
        claims["groups"] = list(org.groups)
    if org.department:
        claims["department"] = org.department
    rename = document.claims.rename
    return {rename.get(name, name): value for name, value in claims.items()}
