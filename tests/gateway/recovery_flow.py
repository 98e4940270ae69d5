"""Driving 找回密码 and the account pages of recovery as a person would, the codes read from the
development outbox."""

from __future__ import annotations

import httpx

from gateway.identity.phones import canonical
from gateway.server.services import Services
from store.phones import replace_verified_phone
from store.records import AccountIdentifier
from tests.gateway.browser import Browser, hidden


async def give_phone(admin: Services, account_id: str, phone: str) -> None:
    """Make ``phone`` the account's verified phone (as an SMS sign-in would have)."""
    number = canonical(phone)
    assert number is not None
    await replace_verified_phone(
        admin.database,
        account_id,
        AccountIdentifier(
            account_id=account_id,
            type="phone",
            blind_index=admin.phone_accounts.blind_index(number),
            value=admin.phone_accounts.seal(number),
            verified=True,
            created_at=admin.clock.now(),
        ),
    )


async def recovery_page(browser: Browser, authorize_url: str) -> httpx.Response:
    """From the app's authorization request, through the sign-in page's 忘记密码 link."""
    response = await browser.http.get(authorize_url)
    while response.status_code in (302, 303):
        response = await browser.http.get(response.headers["location"])
    assert response.request.url.path == "/login", response.text
    assert f'href="/login/recover?tx={hidden(response.text, "tx")}"' in response.text
    page = await browser.http.get(f"/login/recover?tx={hidden(response.text, 'tx')}")
    assert page.status_code == 200, page.text
    return page


async def post(browser: Browser, page: httpx.Response, path: str, **fields: str) -> httpx.Response:
    return await browser.http.post(
        path,
        data={
            "tx": hidden(page.text, "tx"),
            "csrf_token": hidden(page.text, "csrf_token"),
            **fields,
        },
    )


async def account_post(
    browser: Browser, page: httpx.Response, path: str, **fields: str
) -> httpx.Response:
    return await browser.http.post(
        path, data={"csrf_token": hidden(page.text, "csrf_token"), **fields}
    )
