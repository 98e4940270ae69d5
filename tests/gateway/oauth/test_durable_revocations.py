"""A revocation outlives the expiring store: Redis restarted without persistence (everything
in it lost), or the in-process store of a restarted gateway, must not bring a revoked access
token, a revoked refresh family or the tokens of an ended session back."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import httpx
from jose import jwt as jose_jwt

from gateway.server.app import create_app
from tests.conftest import LiveServer, _ThreadedServer, running_gateway
from tests.gateway.browser import Browser
from tests.gateway.helpers import second_instance, service_client
from tests.redis_cluster import _redis_server, require_redis_binaries
from tests.support import free_port

PASSWORD = "correct horse battery"
CALLBACK = "https://portal.example.gov.cn/cb"


def _authorize_url(base: str, client_id: str, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "state": "st",
        **extra,
    }
    return f"{base}/oauth/authorize?{urlencode(params)}"


async def _code_flow(live: LiveServer, browser: Browser, registered) -> dict:
    arrival = await browser.go(
        _authorize_url(live.url, registered.client.client_id), username="li", password=PASSWORD
    )
    code = httpx.URL(arrival.headers["location"]).params["code"]
    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
            auth=(registered.client.client_id, registered.client_secret),
        )
    assert response.status_code == 200, response.text
    return response.json()


async def _once_served(send) -> httpx.Response:
    """The answer once the gateway has its connection to the restarted Redis again (the first
    request after a restart may meet a dropped connection and get its 503)."""
    for _ in range(20):
        answer = await send()
        if answer.status_code != 503:
            return answer
        await asyncio.sleep(0.5)
    raise AssertionError(f"still 503 after the restart: {answer.text}")


def _auth(registered) -> tuple[str, str]:
    return (registered.client.client_id, registered.client_secret)


async def test_revocations_survive_a_redis_restart_that_loses_its_data(
    settings_for, tmp_path
) -> None:
    require_redis_binaries()
    port = free_port()
    redis = _redis_server(tmp_path, port)  # --save '' --appendonly no: a restart loses all
    url = f"redis://127.0.0.1:{port}/0"
    try:
        with running_gateway(settings_for, "services", redis_url=url) as live:
            async with second_instance(live.settings) as admin:
                await admin.accounts.create_local(username="li", password=PASSWORD)
                portal = await admin.clients.register(name="门户", redirect_uris=[CALLBACK])
                kiosk = await admin.clients.register(
                    name="自助机",
                    redirect_uris=[CALLBACK],
                    post_logout_redirect_uris=["https://portal.example.gov.cn/bye"],
                    grant_types=["authorization_code"],
                )
            service = await service_client(live.settings)
            first, second = Browser(live.url), Browser(live.url)
            try:
                revoked_at = await _code_flow(live, first, portal)  # access token revoked
                family = await _code_flow(live, first, portal)  # refresh token revoked
                ended = await _code_flow(live, second, kiosk)  # its session ended
                kept = await _code_flow(live, first, portal)  # nothing revoked
                logout = await second.http.get(
                    "/oauth/logout?"
                    + urlencode(
                        {
                            "id_token_hint": ended["id_token"],
                            "post_logout_redirect_uri": "https://portal.example.gov.cn/bye",
                        }
                    )
                )
                assert logout.status_code in (302, 303), logout.text
            finally:
                await first.close()
                await second.close()
            assert "sid" in jose_jwt.get_unverified_claims(ended["access_token"])

            async with httpx.AsyncClient(base_url=live.url) as http:
                form = {"grant_type": "client_credentials"}
                machine = (await http.post("/oauth/token", data=form, auth=_auth(service))).json()
                machine_kept = (
                    await http.post("/oauth/token", data=form, auth=_auth(service))
                ).json()
                for token, registered in (
                    (revoked_at["access_token"], portal),
                    (family["refresh_token"], portal),
                    (machine["access_token"], service),
                ):
                    answer = await http.post(
                        "/oauth/revoke", data={"token": token}, auth=_auth(registered)
                    )
                    assert answer.status_code == 200

                async def userinfo(token: str) -> httpx.Response:
                    return await _once_served(
                        lambda: http.get(
                            "/oauth/userinfo", headers={"Authorization": f"Bearer {token}"}
                        )
                    )

                async def introspect(token: str, registered) -> dict:
                    answer = await _once_served(
                        lambda: http.post(
                            "/oauth/introspect", data={"token": token}, auth=_auth(registered)
                        )
                    )
                    assert answer.status_code == 200, answer.text
                    return answer.json()

                async def refused_everywhere() -> None:
                    for token in (
                        revoked_at["access_token"],
                        family["access_token"],
                        ended["access_token"],
                    ):
                        assert (await userinfo(token)).status_code == 401
                    assert await introspect(family["refresh_token"], portal) == {"active": False}
                    assert await introspect(machine["access_token"], service) == {"active": False}
                    refresh = await _once_served(
                        lambda: http.post(
                            "/oauth/token",
                            data={
                                "grant_type": "refresh_token",
                                "refresh_token": family["refresh_token"],
                            },
                            auth=_auth(portal),
                        )
                    )
                    assert refresh.json()["error"] == "invalid_grant"
                    # What was never revoked still works: nothing is refused wholesale.
                    assert (await userinfo(kept["access_token"])).status_code == 200
                    kept_machine = await introspect(machine_kept["access_token"], service)
                    assert kept_machine["active"] is True

                await refused_everywhere()
                redis.stop()
                redis = _redis_server(tmp_path, port)  # empty: nothing was saved
                await refused_everywhere()
    finally:
        redis.stop()


async def test_revocations_survive_a_restart_of_the_embedded_gateway(settings_for) -> None:
    """The in-process store starts empty at each start; the revocation is still in force."""
    port = free_port()
    settings = settings_for("embedded", issuer=f"http://127.0.0.1:{port}")
    service = None
    for run in range(2):
        server = _ThreadedServer(create_app(settings), port)
        server.start()
        try:
            if service is None:
                service = await service_client(settings)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                if run == 0:
                    form = {"grant_type": "client_credentials"}
                    issued = await http.post("/oauth/token", data=form, auth=_auth(service))
                    token = issued.json()["access_token"]
                    await http.post("/oauth/revoke", data={"token": token}, auth=_auth(service))
                answer = await http.post(
                    "/oauth/introspect", data={"token": token}, auth=_auth(service)
                )
                assert answer.json() == {"active": False}, f"run {run}"
        finally:
            server.stop()
