"""Enterprise (法人) delegation: the legal representative appoints administrators and staff
(经办人), each a person account, with roles and an optional expiry; administrators appoint
staff. Staff sign in as themselves and act for the enterprise in apps that allow it.

Every change is audited in its own transaction; tokens pick changes up at their next refresh."""

from __future__ import annotations

import uuid

from gateway.identity.audit import AuditLog
from gateway.identity.errors import GatewayError, InvalidInput
from store import delegations as store
from store.accounts import AccountStore
from store.clock import Clock
from store.database import Database
from store.records import Account, AuditEvent, Delegation

POSITIONS = ("representative", "administrator", "staff")
# Who may appoint whom: the representative is set by a city administrator.
APPOINTS = {"representative": ("administrator", "staff"), "administrator": ("staff",)}


class NotAllowed(GatewayError):
    """The actor may not make this change (the reason is in the message)."""


class DelegationService:
    def __init__(
        self, database: Database, audit: AuditLog, clock: Clock, accounts: AccountStore
    ) -> None:
        self._accounts = accounts
        self._db = database
        self._audit = audit
        self._clock = clock

    async def active(self, member_id: str, organisation_id: str) -> Delegation | None:
        """The member's strongest live delegation from the enterprise, if any."""
        found = await self.of_member(member_id)
        mine = [d for d in found if d.organisation_id == organisation_id]
        mine.sort(key=lambda d: POSITIONS.index(d.position))
        return mine[0] if mine else None

    async def may_act_for(self, member_id: str, organisation_id: str) -> bool:
        """A live delegation from an enterprise account that is itself still enabled."""
        if await self.active(member_id, organisation_id) is None:
            return False
        enterprise = await self._accounts.get(organisation_id)
        return enterprise is not None and not enterprise.disabled

    async def of_member(self, member_id: str) -> list[Delegation]:
        async with self._db.sessions() as session:
            found, _ = await store.list_delegations(
                session, self._clock.now(), member_id=member_id, active_only=True, limit=200
            )
        return found

    async def get(self, delegation_id: str) -> Delegation | None:
        async with self._db.sessions() as session:
            return await store.get_delegation(session, delegation_id)

    async def of_organisation(self, organisation_id: str) -> list[Delegation]:
        """The enterprise's live delegations (revoked and expired ones are in the audit log)."""
        async with self._db.sessions() as session:
            found, _ = await store.list_delegations(
                session,
                self._clock.now(),
                organisation_id=organisation_id,
                active_only=True,
                limit=1000,
            )
        return found

    async def appoint(
        self,
        organisation: Account,
        member: Account,
        position: str,
        roles: list[str],
        expires_at: float | None,
        actor: str,
        actor_position: str | None,
        request: object | None = None,
    ) -> Delegation:
        """Appoint ``member``; ``actor_position`` None means a city administrator acting."""
        if organisation.kind != "legal_person":
            raise InvalidInput("organisation", "is not an enterprise (legal person) account")
        if member.kind == "legal_person" or member.disabled:
            raise InvalidInput("member", "must be an enabled person account")
        if position not in POSITIONS:
            raise InvalidInput("position", f"one of {', '.join(POSITIONS)}")
        now = self._clock.now()
        if expires_at is not None and not now < expires_at <= 253402300799:
            raise InvalidInput("expires_at", "must be in the future, before the year 10000")
        allowed = POSITIONS if actor_position is None else APPOINTS.get(actor_position, ())
        if position not in allowed:
            who = actor_position or "city administrator"
            raise NotAllowed(f"a {who} cannot appoint {position}")
        if actor_position is not None:
            # As RBAC's escalation rule: a delegate hands on only roles it holds itself, so the
            # roles a city administrator gave the representative bound the whole enterprise.
            held = {
                role
                for own in await self.of_member(actor)
                if own.organisation_id == organisation.id and own.position in APPOINTS
                for role in own.roles
            }
            if beyond := sorted(set(roles) - held):
                raise NotAllowed(
                    f"a {actor_position} grants only roles it holds, not {', '.join(beyond)}"
                )
        delegation = Delegation(
            id=str(uuid.uuid4()),
            organisation_id=organisation.id,
            member_id=member.id,
            position=position,
            roles=tuple(sorted(set(roles))),
            granted_by=actor,
            version=1,
            created_at=now,
            expires_at=expires_at,
        )
        async with self._db.transaction() as session:
            saved = await store.add_delegation(session, delegation)
            await self._audit.record(
                AuditEvent(
                    "delegation.granted",
                    actor=actor,
                    target=member.id,
                    details={
                        "organisation": organisation.id,
                        "position": position,
                        "roles": list(saved.roles),
                        "expires_at": expires_at,
                    },
                ),
                session=session,
                request=request,  # type: ignore[arg-type]
            )
        return saved

    async def revoke(
        self, delegation_id: str, actor: str, actor_position: str | None, request: object = None
    ) -> Delegation:
        async with self._db.transaction() as session:
            current = await store.get_delegation(session, delegation_id)
            if current is None or current.revoked_at is not None:
                raise InvalidInput("delegation", "no such live delegation")
            allowed = POSITIONS if actor_position is None else APPOINTS.get(actor_position, ())
            if current.position not in allowed:
                raise NotAllowed(f"a {actor_position} cannot revoke a {current.position}")
            revoked = await store.revoke_delegation(session, delegation_id, self._clock.now())
            await self._audit.record(
                AuditEvent(
                    "delegation.revoked",
                    actor=actor,
                    target=current.member_id,
                    details={"organisation": current.organisation_id, "position": current.position},
                ),
                session=session,
                request=request,  # type: ignore[arg-type]
            )
        return revoked
