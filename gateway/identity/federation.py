"""From a department login to one 一号通 account: find the linked account, or link by verified
identifiers, or provision one, or ask for proof of ownership (rules in ``policies/linking.py``)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, replace

from gateway.identity.audit import AuditLog
from gateway.identity.pii import PiiVault
from policies.identifiers import mask, mask_phone, national_id_problem, uscc_problem
from policies.linking import LinkingDecision, LinkingFacts, decide_link
from providers.base import IDENTIFIERS, Identity
from store.accounts import AccountStore
from store.clock import Clock
from store.identities import IdentityStore
from store.records import Account, AccountIdentifier, AuditEvent, LinkedIdentity


@dataclass(frozen=True)
class ProviderTrust:
    """What a department's word is worth: which contact identifiers may link on their own,
    and the assurance level (acr) its identities carry."""

    trusted_for: frozenset[str] = frozenset()
    assurance: str = "L1"


@dataclass(frozen=True)
class Resolution:
    decision: LinkingDecision
    account: Account | None  # signed in (use/link/provision), or to be proven (prove)


def _checked(identity: Identity) -> dict[str, str]:
    """The identifiers of ``identity`` worth keeping: ID numbers and credit codes only when
    their check digits hold."""
    values = {kind: getattr(identity, kind) for kind in IDENTIFIERS if getattr(identity, kind)}
    if "national_id" in values and national_id_problem(values["national_id"]):
        del values["national_id"]
    if "uscc" in values and uscc_problem(values["uscc"]):
        del values["uscc"]
    return values


def masked_attributes(identity: Identity) -> str:
    """What a login asserted, as kept with the link: identifiers masked."""
    return json.dumps(
        {
            "username": identity.username,
            "name": identity.name,
            "phone": mask_phone(identity.phone),
            "email": identity.email,
            "national_id": mask(identity.national_id),
            "uscc": mask(identity.uscc),
            "groups": list(identity.groups),
            "verified": sorted(identity.verified),
        },
        ensure_ascii=False,
    )


class FederationService:
    def __init__(
        self,
        identities: IdentityStore,
        accounts: AccountStore,
        vault: PiiVault,
        clock: Clock,
        audit: AuditLog,
    ) -> None:
        self._audit = audit
        self._identities = identities
        self._accounts = accounts
        self._vault = vault
        self._clock = clock

    def _identifiers(
        self, account_id: str, values: dict[str, str], verified: frozenset[str]
    ) -> list[AccountIdentifier]:
        now = self._clock.now()
        return [
            AccountIdentifier(
                account_id=account_id,
                type=kind,
                blind_index=self._vault.blind_index(kind, value),
                value=self._vault.seal(kind, value),
                verified=kind in verified,
                created_at=now,
            )
            for kind, value in values.items()
        ]

    def _link(self, identity: Identity, account_id: str) -> LinkedIdentity:
        now = self._clock.now()
        return LinkedIdentity(
            provider_id=identity.provider_id,
            subject=identity.subject,
            account_id=account_id,
            first_login_at=now,
            last_login_at=now,
            last_attributes=self._vault.seal_json(masked_attributes(identity)),
        )

    async def resolve(self, identity: Identity, trust: ProviderTrust) -> Resolution:
        values = _checked(identity)
        verified = frozenset(k for k in identity.verified if k in values)
        existing = await self._identities.linked(identity.provider_id, identity.subject)
        wanted = {kind: self._vault.blind_index(kind, value) for kind, value in values.items()}
        matches = {} if existing else await self._identities.accounts_by_index(wanted)
        decision = decide_link(
            LinkingFacts(
                linked_account=existing.account_id if existing else None,
                verified=verified,
                trusted_for=trust.trusted_for,
                matches=matches,
            )
        )
        if decision.outcome == "use":
            await self._identities.touch_link(
                identity.provider_id,
                identity.subject,
                self._vault.seal_json(masked_attributes(identity)),
                self._clock.now(),
            )
            return Resolution(decision, await self._accounts.get(decision.account_id or ""))
        if decision.outcome == "link":
            return Resolution(
                decision, await self.link(identity, decision.account_id or "", why=decision.reason)
            )
        if decision.outcome == "prove":
            return Resolution(decision, await self._accounts.get(decision.account_id or ""))
        # An identifier another account holds stays with it (an identifier has one owner).
        free = {kind: value for kind, value in values.items() if kind not in matches}
        return Resolution(decision, await self._provision(identity, trust, free, verified))

    async def register_identifiers(self, account_id: str, values: dict[str, str | None]) -> None:
        """Index the contact details of a local account (unverified) so that department logins
        naming them are recognised (and asked for proof)."""
        present = {kind: value for kind, value in values.items() if value}
        await self._identities.add_identifiers(self._identifiers(account_id, present, frozenset()))

    async def link(self, identity: Identity, account_id: str, why: str) -> Account | None:
        """Link ``identity`` to ``account_id`` (automatically, or after proof of ownership)."""
        values = _checked(identity)
        verified = frozenset(k for k in identity.verified if k in values)
        await self._identities.link(
            self._link(identity, account_id), self._identifiers(account_id, values, verified)
        )
        await self._audit.record(
            AuditEvent(
                "link.created",
                actor=account_id,
                target=account_id,
                details={"provider": identity.provider_id, "reason": why},
            )
        )
        return await self._accounts.get(account_id)

    async def with_phones(self, accounts: list[Account]) -> list[Account]:
        """The accounts with their phone opened from the sealed identifiers (the verified one
        where there is one), for the pages and APIs that show it (masked or to an admin)."""
        found: dict[str, AccountIdentifier] = {}
        for item in await self._identities.phones_of([a.id for a in accounts]):
            if item.account_id not in found or item.verified:
                found[item.account_id] = item
        return [
            replace(a, phone=self._vault.open("phone", found[a.id].value)) if a.id in found else a
            for a in accounts
        ]

    async def with_phone(self, account: Account) -> Account:
        return (await self.with_phones([account]))[0]

    async def verified_identifiers(self, account_id: str, kinds: set[str]) -> dict[str, str]:
        """The account's verified identifiers of ``kinds``, decrypted (for restricted claims an
        admin approved an app for; never logged)."""
        found = await self._identities.identifiers_of(account_id)
        return {
            item.type: self._vault.open(item.type, item.value)
            for item in found
            if item.verified and item.type in kinds
        }

    async def links_of(self, account_id: str) -> list[LinkedIdentity]:
        return await self._identities.links_of(account_id)

    async def unlink(self, account_id: str, provider_id: str, subject: str) -> bool:
        removed = await self._identities.unlink(account_id, provider_id, subject)
        if removed:
            await self._audit.record(
                AuditEvent(
                    "link.removed",
                    actor=account_id,
                    target=account_id,
                    details={"provider": provider_id},
                )
            )
        return removed

    async def _provision(
        self,
        identity: Identity,
        trust: ProviderTrust,
        values: dict[str, str],
        verified: frozenset[str],
    ) -> Account:
        now = self._clock.now()
        digest = hashlib.sha256(f"{identity.provider_id}|{identity.subject}".encode()).hexdigest()
        account = Account(
            id=str(uuid.uuid4()),
            username=f"{identity.provider_id}-{digest[:12]}".lower()[:64],
            name=identity.name,
            phone=values.get("phone"),
            email=values.get("email"),
            kind="legal_person" if "uscc" in verified else "person",
            assurance=identity.assurance or trust.assurance,
            created_at=now,
            updated_at=now,
        )
        await self._identities.provision(
            account,
            self._link(identity, account.id),
            self._identifiers(account.id, values, verified),
        )
        await self._audit.record(
            AuditEvent(
                "account.provisioned",
                actor=account.id,
                target=account.id,
                details={"provider": identity.provider_id, "kind": account.kind},
            )
        )
        return account
