"""The device authorization grant (RFC 8628) end to end: a kiosk asks for codes and polls, a
person types the user code at /device in a scripted browser, signs in and allows or refuses."""

from __future__ import annotations

import re

import httpx
import pytest
from jose import jwt as jose_jwt

from gateway.oauth.device_codes import USER_CODE_ALPHABET
from policies.clients import DEVICE_CODE
from store.clock import FakeClock
from tests.conftest import running_gateway
from tests.gateway.browser import Browser, hidden
from tests.gateway.cas.conftest import Command
from tests.gateway.helpers import second_instance

PASSWORD = "correct horse battery"


@pytest.fixture(params=["embedded", "services"])
async def kiosk(request, settings_for):
    clock = FakeClock() if request.param == "embedded" else None
    # Without the client cache, a state the command line sets shows at the next request.
    with running_gateway(settings_for, request.param, clock=clock, client_cache_seconds=0) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="zhang", password=PASSWORD, name="张伟")
            registered = await admin.clients.register(
                name="政务大厅自助机",
                redirect_uris=[],
                grant_types=[DEVICE_CODE, "refresh_token"],
                public=True,
            )
        yield live, registered.client.client_id, clock


async def start(http: httpx.AsyncClient, client_id: str, scope: str = "openid profile") -> dict:
    response = await http.post(
        "/oauth/device_authorization", data={"client_id": client_id, "scope": scope}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


async def poll(http: httpx.AsyncClient, client_id: str, device_code: str) -> httpx.Response:
    return await http.post(
        "/oauth/token",
        data={"grant_type": DEVICE_CODE, "device_code": device_code, "client_id": client_id},
    )


async def answer_at_device_page(
    base_url: str, user_code: str, decision: str, *, via_complete_uri: str | None = None
) -> Browser:
    browser = Browser(base_url)
    page = await browser.http.get(via_complete_uri or "/device")
    assert page.status_code == 200
    if via_complete_uri:  # filled in, but still confirmed by the person (RFC 8628 §5.4)
        assert f'value="{user_code}"' in page.text
    response = await browser.http.post(
        "/device",
        data={"user_code": user_code.lower(), "csrf_token": hidden(page.text, "csrf_token")},
    )
    assert response.status_code == 303, response.text
    login = await browser.http.get(response.headers["location"])
    assert login.request.url.path == "/login"
    signed_in = await browser.http.post(
        "/login",
        data={
            "tx": hidden(login.text, "tx"),
            "csrf_token": hidden(login.text, "csrf_token"),
            "username": "zhang",
            "password": PASSWORD,
        },
    )
    assert signed_in.status_code == 303
    review = await browser.http.get(signed_in.headers["location"])
    assert review.status_code == 200, review.text
    assert "政务大厅自助机" in review.text and user_code in review.text
    done = await browser.http.post(
        "/device/decide",
        data={
            "tx": hidden(review.text, "tx"),
            "csrf_token": hidden(review.text, "csrf_token"),
            "decision": decision,
        },
    )
    assert done.status_code == 200, done.text
    return browser


async def test_discovery_names_the_endpoint_and_the_grant(kiosk) -> None:
    live, _, _ = kiosk
    async with httpx.AsyncClient(base_url=live.url) as http:
        document = (await http.get("/.well-known/openid-configuration")).json()
    assert document["device_authorization_endpoint"] == live.url + "/oauth/device_authorization"
    assert DEVICE_CODE in document["grant_types_supported"]


async def test_allowed_on_the_phone_the_kiosk_gets_tokens_once(kiosk) -> None:
    live, client_id, clock = kiosk
    async with httpx.AsyncClient(base_url=live.url) as http:
        codes = await start(http, client_id)
        assert re.fullmatch(
            f"[{USER_CODE_ALPHABET}]{{4}}-[{USER_CODE_ALPHABET}]{{4}}", codes["user_code"]
        )
        assert codes["verification_uri"] == live.url + "/device"
        assert codes["verification_uri_complete"].endswith(f"user_code={codes['user_code']}")
        assert codes["interval"] == 5 and codes["expires_in"] == 600
        pending = await poll(http, client_id, codes["device_code"])
        assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
        browser = await answer_at_device_page(
            live.url,
            codes["user_code"],
            "allow",
            via_complete_uri=codes["verification_uri_complete"],
        )
        await browser.close()
        if clock is not None:
            clock.advance(6)
        granted = await poll(http, client_id, codes["device_code"])
        assert granted.status_code == 200, granted.text
        tokens = granted.json()
        assert tokens["refresh_token"] and tokens["token_type"].lower() == "bearer"
        id_token = jose_jwt.get_unverified_claims(tokens["id_token"])
        assert id_token["aud"] == client_id and id_token["amr"] == ["pwd"]
        assert "auth_time" in id_token
        userinfo = await http.get(
            "/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert userinfo.json()["name"] == "张伟"
        again = await poll(http, client_id, codes["device_code"])
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        refreshed = await http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": client_id,
            },
        )
        assert refreshed.status_code == 200, refreshed.text


async def test_refused_on_the_phone_the_kiosk_hears_access_denied(kiosk) -> None:
    live, client_id, _ = kiosk
    async with httpx.AsyncClient(base_url=live.url) as http:
        codes = await start(http, client_id)
        browser = await answer_at_device_page(live.url, codes["user_code"], "deny")
        await browser.close()
        refused = await poll(http, client_id, codes["device_code"])
        assert refused.status_code == 400 and refused.json()["error"] == "access_denied"


async def test_a_kiosk_app_out_of_service_is_neither_approved_nor_answered(kiosk) -> None:
    live, client_id, _ = kiosk
    async with httpx.AsyncClient(base_url=live.url) as http:
        codes = await start(http, client_id)
        await Command(live.settings)("clients", "state", client_id, "suspended")
        browser = Browser(live.url)
        try:
            page = await browser.http.get("/device")
            typed = await browser.http.post(
                "/device",
                data={
                    "user_code": codes["user_code"],
                    "csrf_token": hidden(page.text, "csrf_token"),
                },
            )
            review = await browser.go(
                typed.headers["location"], username="zhang", password=PASSWORD
            )
            assert 'name="decision"' not in review.text
        finally:
            await browser.close()
        polled = await poll(http, client_id, codes["device_code"])
        assert polled.status_code == 400 and polled.json()["error"] == "invalid_client", polled.text


async def test_polling_too_fast_is_slowed_down_and_late_is_expired(kiosk) -> None:
    live, client_id, clock = kiosk
    if clock is None:
        pytest.skip("moves the clock")
    async with httpx.AsyncClient(base_url=live.url) as http:
        codes = await start(http, client_id)
        first = await poll(http, client_id, codes["device_code"])
        assert first.json()["error"] == "authorization_pending"
        fast = await poll(http, client_id, codes["device_code"])
        assert fast.status_code == 400 and fast.json()["error"] == "slow_down"
        clock.advance(6)  # the interval is 10 s now (5 + 5 after slow_down)
        assert (await poll(http, client_id, codes["device_code"])).json()["error"] == "slow_down"
        clock.advance(16)  # and 15 s after the second
        assert (await poll(http, client_id, codes["device_code"])).json()["error"] == (
            "authorization_pending"
        )
        clock.advance(600)
        late = await poll(http, client_id, codes["device_code"])
        assert late.status_code == 400 and late.json()["error"] == "expired_token"


async def test_wrong_codes_and_other_clients_are_refused(kiosk) -> None:
    live, client_id, _ = kiosk
    async with httpx.AsyncClient(base_url=live.url) as http:
        codes = await start(http, client_id)
        unknown = await poll(http, client_id, "not-a-device-code")
        assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"
        stranger = await http.post(
            "/oauth/device_authorization", data={"client_id": "nobody", "scope": "openid"}
        )
        assert stranger.status_code in (400, 401) and stranger.json()["error"] == "invalid_client"
        browser = Browser(live.url)
        try:
            page = await browser.http.get("/device")
            wrong = await browser.http.post(
                "/device",
                data={"user_code": "BBBB-BBBB", "csrf_token": hidden(page.text, "csrf_token")},
            )
            assert wrong.status_code == 400 and 'role="alert"' in wrong.text
            forged = await browser.http.post(
                "/device", data={"user_code": codes["user_code"], "csrf_token": "forged"}
            )
            assert forged.status_code == 400
        finally:
            await browser.close()


async def test_a_client_not_registered_for_the_grant_is_unauthorized(kiosk) -> None:
    live, _, _ = kiosk
    async with second_instance(live.settings) as admin:
        web = await admin.clients.register(name="网站", redirect_uris=["https://a.example/cb"])
    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.post(
            "/oauth/device_authorization",
            data={"scope": "openid"},
            auth=(web.client.client_id, web.client_secret),
        )
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


async def test_guessing_user_codes_is_limited_per_address(kiosk) -> None:
    live, _, _ = kiosk
    browser = Browser(live.url)
    try:
        page = await browser.http.get("/device")
        token = hidden(page.text, "csrf_token")
        statuses = [
            (
                await browser.http.post(
                    "/device", data={"user_code": "BBBB-BBBB", "csrf_token": token}
                )
            ).status_code
            for _ in range(11)
        ]
    finally:
        await browser.close()
    assert statuses[:10] == [400] * 10 and statuses[10] == 429


async def test_the_complete_uri_as_a_qr_code(kiosk) -> None:
    live, client_id, _ = kiosk
    async with httpx.AsyncClient(base_url=live.url) as http:
        codes = await start(http, client_id)
        svg = await http.get("/device/qr.svg", params={"user_code": codes["user_code"]})
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert svg.text.startswith("<svg") and 'class="qr"' in svg.text
        assert (
            await http.get("/device/qr.svg", params={"user_code": "<script>"})
        ).status_code == 400
