"""Helpers for tests that talk to a live gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from gateway.identity.clients import Registered
from gateway.server.services import Services, open_services
from gateway.server.settings import Settings
from tests.gateway.browser import TLS


@asynccontextmanager
async def second_instance(settings: Settings) -> AsyncIterator[Services]:
    """Services opened beside the live gateway, as an admin tool or another instance would."""
    services = await open_services(settings)
    try:
        yield services
    finally:
        await services.close()


async def service_client(settings: Settings, **options: object) -> Registered:
    async with second_instance(settings) as services:
        return await services.clients.register(
            name=str(options.pop("name", "数据共享服务")),
            grant_types=options.pop("grant_types", ["client_credentials"]),  # type: ignore[arg-type]
            scopes=options.pop("scopes", ["data.read", "data.write"]),  # type: ignore[arg-type]
            **options,  # type: ignore[arg-type]
        )


async def fetch_jwks(base_url: str) -> dict:
    async with httpx.AsyncClient(base_url=base_url, verify=TLS) as http:
        discovery = (await http.get("/.well-known/openid-configuration")).json()
        return (await http.get(discovery["jwks_uri"])).json()


async def id_token_after(
    base_url: str, registered: Registered, arrival: httpx.Response, redirect_uri: str
) -> dict:
    """Exchange the code in a redirect to the client; the claims of the ID token it yields."""
    from jose import jwt as jose_jwt

    code = httpx.URL(arrival.headers["location"]).params["code"]
    async with httpx.AsyncClient(base_url=base_url, verify=TLS) as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            auth=(registered.client.client_id, registered.client_secret),
        )
    assert response.status_code == 200, response.text
    return jose_jwt.get_unverified_claims(response.json()["id_token"])
