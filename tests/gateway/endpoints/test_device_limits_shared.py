"""One address guessing user codes must not lock every other address out of /device: the
overall budget (RFC 8628 §5.1) counts only tries that the per-address limit let through."""

from __future__ import annotations

import asyncio

import httpx

from tests.gateway.browser import hidden
from tests.gateway.endpoints.test_device_grant import kiosk, start  # noqa: F401 - fixture

GUESSES = 620  # past the overall budget of 600 a minute


def _from(base_url: str, address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, transport=transport, follow_redirects=False)


async def test_a_guesser_refused_per_address_does_not_use_up_everyone_elses_tries(kiosk) -> None:  # noqa: F811
    live, client_id, _ = kiosk
    guesser, citizen = _from(live.url, "127.0.0.3"), _from(live.url, "127.0.0.4")
    try:
        token = hidden((await guesser.get("/device")).text, "csrf_token")
        for _ in range(GUESSES // 20):
            await asyncio.gather(
                *(
                    guesser.post("/device", data={"user_code": "BBBB-BBBB", "csrf_token": token})
                    for _ in range(20)
                )
            )
        codes = await start(citizen, client_id)
        token = hidden((await citizen.get("/device")).text, "csrf_token")
        typed = await citizen.post(
            "/device", data={"user_code": codes["user_code"], "csrf_token": token}
        )
    finally:
        await guesser.aclose()
        await citizen.aclose()
    assert typed.status_code == 303, typed.status_code
