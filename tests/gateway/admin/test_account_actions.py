"""An administrator's further actions on an account through the admin API: ending one SSO
session (the others go on), resetting the password by SMS to the verified phone (never shown,
the old one stops working, refused without a verified phone), removing passkeys and recovery
codes; each inside the administrator's reach only, and audited. Live gateway, both backends."""

from __future__ import annotations

import pytest

from store import audit as audit_store
from store.passkeys import Passkey, PasskeyStore
from tests.gateway.admin.conftest import PASSWORD, World
from tests.gateway.browser import Browser
from tests.gateway.helpers import second_instance
from tests.gateway.identity.test_access_policies import CALLBACK, authorize_url
from tests.gateway.recovery_flow import give_phone
from tests.gateway.sms_flow import outbox

PHONE = "13912345678"


@pytest.fixture
async def office(world: World):
    live_server = world.live
    async with second_instance(live_server.settings) as admin:
        app = await admin.clients.register(name="东区办事", redirect_uris=[CALLBACK])
    browsers = [Browser(live_server.url), Browser(live_server.url)]
    try:
        yield world, app, browsers
    finally:
        for browser in browsers:
            await browser.close()


async def events(world: World, event: str) -> list:
    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        return await audit_store.query(session, event=event)


async def test_ending_one_session_leaves_the_others(office) -> None:
    world, app, browsers = office
    for browser in browsers:
        arrival = await browser.go(
            authorize_url(world.live.url, app.client.client_id),
            username="east-person",
            password=PASSWORD,
        )
        assert arrival.status_code in (302, 303)
    person = world.east_person
    async with world.http(world.east_token) as http:
        listed = (await http.get(f"/accounts/{person}/sessions")).json()["items"]
        assert len(listed) == 2
        first, second = (s["sid"] for s in listed)
        assert (await http.delete(f"/accounts/{person}/sessions/{first}")).status_code == 204
        left = (await http.get(f"/accounts/{person}/sessions")).json()["items"]
        assert [s["sid"] for s in left] == [second]
        assert (await http.delete(f"/accounts/{person}/sessions/{first}")).status_code == 404
        # A session is ended through its own account only.
        other = await http.delete(f"/accounts/{world.east_admin}/sessions/{second}")
        assert other.status_code == 404
        # Outside the district, the account does not exist for this administrator.
        outside = await http.delete(f"/accounts/{world.west_person}/sessions/{second}")
        assert outside.status_code == 404
    async with world.http(world.city_token) as http:
        assert len((await http.get(f"/accounts/{person}/sessions")).json()["items"]) == 1
    ended = await events(world, "admin.account.sessions_revoked")
    assert [(e.actor, e.target, e.details["ended"]) for e in ended] == [
        (world.east_admin, person, 1)
    ]


async def test_a_password_reset_goes_to_the_verified_phone_only(office) -> None:
    world, _, _ = office
    live = world.live
    async with world.http(world.city_token) as http:
        # No verified phone: said so, and nothing changes.
        refused = await http.post(f"/accounts/{world.west_person}/password/reset")
        assert refused.status_code == 409
        assert "verified phone" in refused.json()["detail"]
    async with second_instance(live.settings) as services:
        assert await services.accounts.authenticate("west-person", PASSWORD) is not None
        await give_phone(services, world.east_person, PHONE)
    async with world.http(world.east_token) as http:
        answer = await http.post(f"/accounts/{world.east_person}/password/reset")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["notified"] is True
    assert body["sent_to"] != PHONE and body["sent_to"].endswith(PHONE[-4:])
    assert PASSWORD not in answer.text
    sent = [m for m in outbox(live.settings.data_dir) if m["phone"] == PHONE]
    assert len(sent) == 1 and sent[0]["template"] == "notice" and sent[0]["code"] == ""
    assert f"{live.settings.issuer}/account/" in sent[0]["text"] and "忘记密码" in sent[0]["text"]
    async with second_instance(live.settings) as services:
        assert await services.accounts.authenticate("east-person", PASSWORD) is None
    reset = await events(world, "admin.account.password_reset")
    assert [(e.actor, e.target) for e in reset] == [(world.east_admin, world.east_person)]
    assert PHONE not in str(reset[0].details)
    # The account keeps no language: the caller may ask for the English message.
    async with world.http(world.east_token) as http:
        english = await http.post(
            f"/accounts/{world.east_person}/password/reset", params={"locale": "en"}
        )
        unknown = await http.post(
            f"/accounts/{world.east_person}/password/reset", params={"locale": "fr"}
        )
    assert english.status_code == 200 and unknown.status_code == 422
    sent = [m for m in outbox(live.settings.data_dir) if m["phone"] == PHONE]
    assert len(sent) == 2 and sent[1]["text"].startswith("[Yihaotong] An administrator reset")
    assert f"{live.settings.issuer}/account/" in sent[1]["text"]


async def test_a_district_administrator_resets_nothing_outside(world: World) -> None:
    async with second_instance(world.live.settings) as services:
        await give_phone(services, world.west_person, PHONE)
    async with world.http(world.east_token) as http:
        for answer in (
            await http.post(f"/accounts/{world.west_person}/password/reset"),
            await http.delete(f"/accounts/{world.west_person}/passkeys"),
            await http.delete(f"/accounts/{world.west_person}/recovery-codes"),
        ):
            assert answer.status_code == 404
    assert outbox(world.live.settings.data_dir) == []
    async with second_instance(world.live.settings) as services:
        assert await services.accounts.authenticate("west-person", PASSWORD) is not None


async def test_passkeys_and_recovery_codes_are_removed(world: World) -> None:
    person = world.east_person
    async with world.http(world.city_token) as http:
        assert (await http.delete(f"/accounts/{person}/passkeys")).status_code == 404
        assert (await http.delete(f"/accounts/{person}/recovery-codes")).status_code == 404
    async with second_instance(world.live.settings) as services:
        key = Passkey("cred-1", person, "pk", 0, [], "", False, "手机", 0.0, None)
        assert await PasskeyStore(services.database).add(key)
        await services.recovery_codes.generate(person)
    async with world.http(world.east_token) as http:
        removed = await http.delete(f"/accounts/{person}/passkeys")
        assert removed.status_code == 200 and removed.json() == {"count": 1}
        assert (await http.delete(f"/accounts/{person}/recovery-codes")).status_code == 204
    async with second_instance(world.live.settings) as services:
        assert await services.passkeys.of_account(person) == []
        assert await services.recovery_codes.left(person) == 0
    assert len(await events(world, "admin.account.passkeys_reset")) == 1
    assert len(await events(world, "admin.account.recovery_codes_reset")) == 1
