"""RP-initiated logout's id_token_hint over real HTTP on both backends."""

from __future__ import annotations

import httpx

from tests.gateway.sso import (
    PASSWORD,
    authorize_url,
    code_of,
    exchange,
)


async def test_an_access_token_is_no_id_token_hint(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    tokens = (await exchange(live, tax, code_of(arrival))).json()
    response = await browser.http.get(
        "/oauth/logout", params={"id_token_hint": tokens["access_token"]}
    )
    assert response.status_code == 200 and 'value="logout"' in response.text, "asks, not silent"
    still = await browser.go(authorize_url(live.url, tax.client.client_id, prompt="none"))
    assert "code" in httpx.URL(still.headers["location"]).params
