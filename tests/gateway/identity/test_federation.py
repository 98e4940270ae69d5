"""Federation on both databases: department logins become one 一号通 account each."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.identity.audit import AuditLog
from gateway.identity.federation import FederationService, ProviderTrust
from gateway.identity.pii import PiiVault
from keys.master import MasterKey
from providers.base import Identity
from store.accounts import AccountStore
from store.identities import IdentityStore
from store.tables import AccountIdentifierRow, LinkedIdentityRow

NATIONAL_ID = "11010519491231002X"
USCC = "91350100M000100Y43"


@pytest.fixture
def federation(database, clock, tmp_path) -> FederationService:
    vault = PiiVault(MasterKey(b"k" * 32))
    audit = AuditLog(database, clock, tmp_path / "audit-spool")
    return FederationService(IdentityStore(database), AccountStore(database), vault, clock, audit)


def person(provider: str, subject: str, **fields: object) -> Identity:
    return Identity(provider_id=provider, subject=subject, name="王芳", **fields)  # type: ignore[arg-type]


async def test_a_verified_id_number_makes_two_departments_one_account(federation) -> None:
    first = await federation.resolve(
        person("tax", "t-1", national_id=NATIONAL_ID, verified=frozenset({"national_id"})),
        ProviderTrust(assurance="L2"),
    )
    assert first.decision.outcome == "provision"
    assert first.account is not None and first.account.kind == "person"
    assert first.account.assurance == "L2"
    second = await federation.resolve(
        person(
            "social", "s-77", national_id=NATIONAL_ID.lower(), verified=frozenset({"national_id"})
        ),
        ProviderTrust(),
    )
    assert second.decision.outcome == "link"
    assert second.account is not None and second.account.id == first.account.id
    again = await federation.resolve(person("social", "s-77"), ProviderTrust())
    assert (again.decision.outcome, again.account.id) == ("use", first.account.id)


async def test_weak_evidence_asks_for_proof_then_links(federation) -> None:
    owner = await federation.resolve(
        person("tax", "t-1", phone="13800138000", verified=frozenset({"phone"})), ProviderTrust()
    )
    claim = person("health", "h-9", phone="138 0013 8000", verified=frozenset({"phone"}))
    weak = await federation.resolve(claim, ProviderTrust())  # verified, but not trusted for phone
    assert weak.decision.outcome == "prove"
    assert weak.account is not None and weak.account.id == owner.account.id
    linked = await federation.link(claim, weak.account.id, why="ownership proven")
    assert linked is not None
    assert (await federation.resolve(claim, ProviderTrust())).decision.outcome == "use"
    trusted = await federation.resolve(
        person("police", "p-3", phone="13800138000", verified=frozenset({"phone"})),
        ProviderTrust(trusted_for=frozenset({"phone"})),
    )
    assert (trusted.decision.outcome, trusted.account.id) == ("link", owner.account.id)


async def test_unverified_email_never_links(federation) -> None:
    first = await federation.resolve(
        person("tax", "t-1", email="wang@example.gov.cn", verified=frozenset({"email"})),
        ProviderTrust(),
    )
    second = await federation.resolve(
        person("edu", "e-1", email="wang@example.gov.cn"), ProviderTrust()
    )
    assert second.decision.outcome == "provision"
    assert second.account.id != first.account.id


async def test_bad_check_digits_are_no_evidence(federation) -> None:
    first = await federation.resolve(
        person("tax", "t-1", national_id=NATIONAL_ID, verified=frozenset({"national_id"})),
        ProviderTrust(),
    )
    forged = NATIONAL_ID[:-1] + "1"
    second = await federation.resolve(
        person("other", "o-1", national_id=forged, verified=frozenset({"national_id"})),
        ProviderTrust(),
    )
    assert second.decision.outcome == "provision" and second.account.id != first.account.id


async def test_legal_persons_by_credit_code(federation) -> None:
    company = await federation.resolve(
        Identity(
            provider_id="market",
            subject="m-1",
            name="某某科技有限公司",
            uscc=USCC,
            verified=frozenset({"uscc"}),
        ),
        ProviderTrust(),
    )
    assert company.account.kind == "legal_person"


async def test_identifiers_are_encrypted_at_rest(federation, database) -> None:
    await federation.resolve(
        person(
            "tax",
            "t-1",
            national_id=NATIONAL_ID,
            phone="13800138000",
            verified=frozenset({"national_id", "phone"}),
        ),
        ProviderTrust(),
    )
    async with database.sessions() as session:
        stored = list(await session.scalars(select(AccountIdentifierRow)))
        links = list(await session.scalars(select(LinkedIdentityRow)))
    dump = " ".join(f"{r.value} {r.blind_index}" for r in stored) + links[0].last_attributes
    assert {r.type for r in stored} == {"national_id", "phone"}
    assert NATIONAL_ID not in dump and "13800138000" not in dump and "19491231" not in dump
