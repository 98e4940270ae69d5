"""The token endpoint's authorization code and refresh token grants over real HTTP on both
backends: single use, rotation, reuse detection and binding to the client."""

from __future__ import annotations

import asyncio

import httpx

from tests.gateway.sso import (
    CALLBACK,
    PASSWORD,
    authorize_url,
    code_of,
    exchange,
    second_app,
)


async def test_reused_code_is_refused_and_revokes_its_tokens(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    code = code_of(arrival)
    first = await exchange(live, tax, code)
    assert first.status_code == 200
    tokens = first.json()
    again = await exchange(live, tax, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    async with httpx.AsyncClient(base_url=live.url) as http:
        auth = (tax.client.client_id, tax.client_secret)
        introspected = await http.post(
            "/oauth/introspect", data={"token": tokens["access_token"]}, auth=auth
        )
        userinfo = await http.get(
            "/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        refreshed = await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=auth,
        )
    assert introspected.json() == {"active": False}
    assert userinfo.status_code == 401
    assert 'error="invalid_token"' in userinfo.headers["www-authenticate"]
    assert refreshed.json()["error"] == "invalid_grant"


async def test_refresh_rotates_and_reuse_revokes_the_family(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    tokens = (await exchange(live, tax, code_of(arrival))).json()
    auth = (tax.client.client_id, tax.client_secret)
    async with httpx.AsyncClient(base_url=live.url) as http:

        async def refresh(token: str, **extra: str) -> httpx.Response:
            return await http.post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": token, **extra},
                auth=auth,
            )

        second = await refresh(tokens["refresh_token"], scope="openid")
        assert second.status_code == 200, second.text
        rotated = second.json()
        assert rotated["refresh_token"] != tokens["refresh_token"]
        assert rotated["scope"] == "openid"
        third = await refresh(rotated["refresh_token"])  # the family keeps its first scope
        assert third.status_code == 200 and third.json()["scope"] == "openid profile email"
        newest = third.json()

        replayed = await refresh(tokens["refresh_token"])  # a stolen, already-used token
        assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
        after = await refresh(newest["refresh_token"])
        assert after.json()["error"] == "invalid_grant", "the whole family is revoked"
        for access in (rotated["access_token"], newest["access_token"]):
            state = await http.post("/oauth/introspect", data={"token": access}, auth=auth)
            assert state.json() == {"active": False}
        wider = await refresh(newest["refresh_token"], scope="openid admin")
        assert wider.status_code == 400


async def test_refresh_tokens_are_bound_to_their_client(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    tokens = (await exchange(live, tax, code_of(arrival))).json()
    other = await second_app(world)
    async with httpx.AsyncClient(base_url=live.url) as http:
        stolen = await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(other.client.client_id, other.client_secret),
        )
        peek = await http.post(
            "/oauth/introspect",
            data={"token": tokens["refresh_token"]},
            auth=(other.client.client_id, other.client_secret),
        )
        own = await http.post(
            "/oauth/introspect",
            data={"token": tokens["refresh_token"]},
            auth=(tax.client.client_id, tax.client_secret),
        )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert peek.json() == {"active": False}
    assert own.json()["active"] is True and own.json()["client_id"] == tax.client.client_id


async def test_simultaneous_reuse_leaves_no_live_tokens(world) -> None:
    """Two uses at the same moment are reuse too: whatever either produced is revoked."""
    live, tax, browser = world["live"], world["tax"], world["browser"]
    auth = (tax.client.client_id, tax.client_secret)
    async with httpx.AsyncClient(base_url=live.url) as http:

        async def live_tokens(answers: list[httpx.Response]) -> list[str]:
            alive = []
            for answer in answers:
                if answer.status_code != 200:
                    continue
                for token in (answer.json()["access_token"], answer.json().get("refresh_token")):
                    state = await http.post("/oauth/introspect", data={"token": token}, auth=auth)
                    if state.json()["active"]:
                        alive.append(token)
            return alive

        for _ in range(3):
            arrival = await browser.go(
                authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
            )
            code = code_of(arrival)
            answers = await asyncio.gather(*(exchange(live, tax, code) for _ in range(4)))
            assert sum(a.status_code == 200 for a in answers) <= 1
            tokens = next((a.json() for a in answers if a.status_code == 200), None)
            if tokens is None:
                continue
            refreshes = await asyncio.gather(
                *(
                    http.post(
                        "/oauth/token",
                        data={
                            "grant_type": "refresh_token",
                            "refresh_token": tokens["refresh_token"],
                        },
                        auth=auth,
                    )
                    for _ in range(4)
                )
            )
            assert sum(r.status_code == 200 for r in refreshes) <= 1
            assert await live_tokens(refreshes) == []
            assert await live_tokens([a for a in answers if a.status_code == 200]) == []


async def test_a_code_survives_a_request_without_the_clients_secret(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    code = code_of(arrival)
    async with httpx.AsyncClient(base_url=live.url) as http:
        thief = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": CALLBACK,
                "client_id": tax.client.client_id,
            },
        )
    assert thief.status_code == 401 and thief.json()["error"] == "invalid_client"
    owner = await exchange(live, tax, code)
    assert owner.status_code == 200, "the code was not spent by the failed attempt"


async def test_another_clients_request_cannot_spend_a_code(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    native = await second_app(world, public=True)
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    code = code_of(arrival)
    async with httpx.AsyncClient(base_url=live.url) as http:
        burn = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": CALLBACK,
                "client_id": native.client.client_id,
            },
        )
    assert burn.json()["error"] == "invalid_grant"
    assert (await exchange(live, tax, code)).status_code == 200
