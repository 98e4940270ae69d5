"""The passkey service against real WebAuthn answers from a software authenticator: each
challenge counts once, a clone whose counter falls behind is refused, the origin and RP id
are checked, and the factors (RFC 8176 amr) follow what the authenticator reports."""

from __future__ import annotations

import copy
import json

import pytest

from gateway.identity.passkeys import PasskeyError, PasskeyService
from store.passkeys import PasskeyStore
from tests.gateway.soft_authenticator import SoftAuthenticator

ISSUER = "https://id.city.gov.cn"
ACCOUNT = "3f2b1c9e-0000-4000-8000-000000000001"


@pytest.fixture
def passkeys(database, expiring_store, clock) -> PasskeyService:
    return PasskeyService(PasskeyStore(database), expiring_store, clock, ISSUER, "一号通")


async def register(passkeys: PasskeyService, authenticator: SoftAuthenticator, binding="sid-1"):
    options = await passkeys.registration_options(ACCOUNT, "zhang", "张伟", binding)
    return await passkeys.register(ACCOUNT, binding, authenticator.create(options), " 办公  电脑 ")


async def test_register_then_sign_in_with_user_verification(passkeys) -> None:
    authenticator = SoftAuthenticator(ISSUER)
    added = await register(passkeys, authenticator)
    assert added.name == "办公 电脑" and added.transports == ["internal"] and not added.backed_up
    options = await passkeys.sign_in_options("tx-1")
    assert (
        "allowCredentials" not in json.loads(options) or not json.loads(options)["allowCredentials"]
    )
    proven = await passkeys.authenticate("tx-1", authenticator.get(options))
    assert proven.account_id == ACCOUNT and proven.amr == ["hwk", "user"]
    [stored] = await passkeys.of_account(ACCOUNT)
    assert stored.sign_count == 1 and stored.last_used_at is not None


async def test_synced_passkey_without_verification_is_one_software_factor(passkeys) -> None:
    authenticator = SoftAuthenticator(ISSUER, verifies_user=False, synced=True)
    await register(passkeys, authenticator)
    options = await passkeys.sign_in_options("tx-1")
    proven = await passkeys.authenticate("tx-1", authenticator.get(options))
    assert proven.amr == ["swk"]


async def test_an_answer_counts_once(passkeys) -> None:
    authenticator = SoftAuthenticator(ISSUER)
    await register(passkeys, authenticator)
    options = await passkeys.sign_in_options("tx-1")
    answer = authenticator.get(options)
    await passkeys.authenticate("tx-1", answer)
    with pytest.raises(PasskeyError) as replayed:
        await passkeys.authenticate("tx-1", answer)
    assert replayed.value.reason == "expired"
    # Nor under another transaction's fresh challenge.
    await passkeys.sign_in_options("tx-2")
    with pytest.raises(PasskeyError):
        await passkeys.authenticate("tx-2", answer)


async def test_a_cloned_authenticator_falls_behind_and_is_refused(passkeys) -> None:
    original = SoftAuthenticator(ISSUER)
    await register(passkeys, original)
    clone = SoftAuthenticator(ISSUER)
    clone.credentials = [copy.copy(original.credentials[0])]
    for tx in ("tx-1", "tx-2"):
        options = await passkeys.sign_in_options(tx)
        await passkeys.authenticate(tx, original.get(options))
    options = await passkeys.sign_in_options("tx-3")
    with pytest.raises(PasskeyError):
        await passkeys.authenticate("tx-3", clone.get(options))  # counter 1, stored 2


async def test_the_challenge_is_bound_to_its_transaction(passkeys) -> None:
    authenticator = SoftAuthenticator(ISSUER)
    await register(passkeys, authenticator)
    options = await passkeys.sign_in_options("tx-1")
    await passkeys.sign_in_options("tx-2")
    with pytest.raises(PasskeyError):
        await passkeys.authenticate("tx-2", authenticator.get(options))


async def test_another_origin_is_refused(passkeys) -> None:
    phishing = SoftAuthenticator("https://id.city.gov.cn.evil.example")
    options = await passkeys.registration_options(ACCOUNT, "zhang", "张伟", "sid-1")
    with pytest.raises(PasskeyError) as refused:
        await passkeys.register(ACCOUNT, "sid-1", phishing.create(options), "x")
    assert refused.value.reason == "invalid"
    assert await passkeys.of_account(ACCOUNT) == []


async def test_registration_needs_its_own_challenge_and_refuses_duplicates(passkeys) -> None:
    authenticator = SoftAuthenticator(ISSUER)
    options = await passkeys.registration_options(ACCOUNT, "zhang", "张伟", "sid-1")
    answer = authenticator.create(options)
    await passkeys.register(ACCOUNT, "sid-1", answer, "a")
    with pytest.raises(PasskeyError):
        await passkeys.register(ACCOUNT, "sid-1", answer, "a")  # challenge spent
    excluded = json.loads(await passkeys.registration_options(ACCOUNT, "zhang", "张伟", "sid-1"))
    assert len(excluded["excludeCredentials"]) == 1
    assert excluded["authenticatorSelection"]["residentKey"] == "required"
    assert excluded["rp"]["id"] == "id.city.gov.cn"


@pytest.mark.parametrize("answer", ["", "{}", "not json", '{"id": 1}', json.dumps({"rawId": "!!"})])
async def test_malformed_answers_are_refused_cleanly(passkeys, answer) -> None:
    await passkeys.sign_in_options("tx-1")
    with pytest.raises(PasskeyError):
        await passkeys.authenticate("tx-1", answer)
    await passkeys.registration_options(ACCOUNT, "zhang", "张伟", "sid-1")
    with pytest.raises(PasskeyError):
        await passkeys.register(ACCOUNT, "sid-1", answer, "x")


async def test_a_user_handle_of_another_account_is_refused(passkeys) -> None:
    authenticator = SoftAuthenticator(ISSUER)
    await register(passkeys, authenticator)
    authenticator.credentials[0].user_handle = b"someone-else"
    options = await passkeys.sign_in_options("tx-1")
    with pytest.raises(PasskeyError):
        await passkeys.authenticate("tx-1", authenticator.get(options))


async def test_removal_is_by_owner_only(passkeys) -> None:
    authenticator = SoftAuthenticator(ISSUER)
    added = await register(passkeys, authenticator)
    assert not await passkeys.remove("another-account", added.credential_id)
    assert not await passkeys.rename("another-account", added.credential_id, "mine")
    assert await passkeys.rename(ACCOUNT, added.credential_id, "家里的手机")
    assert await passkeys.remove(ACCOUNT, added.credential_id)
    options = await passkeys.sign_in_options("tx-1")
    with pytest.raises(PasskeyError) as refused:
        await passkeys.authenticate("tx-1", authenticator.get(options))
    assert refused.value.reason == "unknown"
