"""One session ended, every protocol told: a person signed in to a CAS app (django-cas-ng), a
SAML app (a pysaml2 service provider) and an OIDC app in one 一号通 session, all three
provisioned with ``yihaotong clients create``. The session ends by a sign-out at the OIDC app,
or by an administrator through the admin API; both other apps' own sessions are gone after."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.gateway.admin.conftest import API, sign_in_token
from tests.gateway.browser import TLS, hidden
from tests.gateway.cas import cas_app
from tests.gateway.helpers import second_instance
from tests.gateway.saml.conftest import PASSWORD
from tests.gateway.sso import CALLBACK, authorize_url, code_of
from tests.support import required

pytest.importorskip("saml2")

from saml2 import BINDING_HTTP_REDIRECT

ADMIN_CALLBACK = "https://admin.example.gov.cn/cb"


async def _into_the_cas_app(world, app_url: str) -> None:
    """The person opens the CAS app's private page, signs in at 一号通, and is let in."""
    http = world["browser"].http
    first = await http.get(f"{app_url}/private/")
    to_login = await http.get(app_url + first.headers["location"])
    arrival = await world["browser"].go(
        to_login.headers["location"], username="wang", password=PASSWORD
    )
    assert arrival.status_code == 303, arrival.text
    back = await http.get(arrival.headers["location"])  # the app validates the ticket
    assert back.status_code == 302, back.text
    assert (await http.get(f"{app_url}/private/")).status_code == 200


async def _into_the_saml_app(world, sp):
    """The SAML app asks; the person's session already exists, so the answer comes at once."""
    request_id, info = sp.login_request(BINDING_HTTP_REDIRECT)
    page = await world["browser"].go(dict(info["headers"])["Location"])
    assert page.status_code == 200 and f'action="{sp.url}/acs"' in page.text, page.text
    return sp.accept(hidden(page.text, "SAMLResponse"), request_id)


async def _into_the_oidc_app(world) -> str:
    """The OIDC app, registered through the command, signs the person in: its ID token."""
    live, browser = world["live"], world["browser"]
    tax = await world["command"]("clients", "create", "--name", "税务服务",
                                 "--redirect-uri", CALLBACK,
                                 "--post-logout-redirect-uri", CALLBACK, "--json")  # fmt: skip
    code = code_of(await browser.go(authorize_url(live.url, tax["client_id"])))
    async with httpx.AsyncClient(base_url=live.url, verify=TLS) as http:
        tokens = await http.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
            auth=(tax["client_id"], tax["client_secret"]),
        )
    assert tokens.status_code == 200, tokens.text
    return tokens.json()["id_token"]


async def _sign_out_at_the_oidc_app(world, id_token: str) -> None:
    logout = await world["browser"].http.get(
        "/oauth/logout", params={"id_token_hint": id_token, "post_logout_redirect_uri": CALLBACK}
    )
    assert logout.status_code == 303


async def _end_by_an_administrator(world) -> None:
    """The city's administrator (made by ``yihaotong admin grant``) ends the person's sessions."""
    live = world["live"]
    async with second_instance(live.settings) as services:
        console = await services.clients.register(
            name="管理控制台",
            redirect_uris=[ADMIN_CALLBACK],
            scopes=["admin:read", "admin:write"],
            admin_console=True,
        )
        await services.accounts.create_local(username="root", password=PASSWORD, name="管理员")
    await world["command"]("admin", "grant", "root")
    token = await sign_in_token(live, console, "root")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=live.url + API, headers=headers, verify=TLS) as http:
        ended = await http.delete(f"/accounts/{world['account'].id}/sessions")
    assert ended.status_code == 200 and ended.json()["count"] == 1, ended.text


@pytest.mark.parametrize("how", ["signed_out_at_an_oidc_app", "ended_by_an_administrator"])
async def test_the_cas_and_the_saml_apps_sessions_end_with_the_sso_session(
    saml_world, tmp_path, how
) -> None:
    required(cas_app.available(), "django-cas-ng and python-cas (pip install '.[test]')")
    browser, command = saml_world["browser"], saml_world["command"]
    cas = cas_app.start(tmp_path / "cas-app", saml_world["live"].url)
    try:
        await command.cas_app("不动产登记", f"{cas.url}/accounts/login/")
        sp, _ = await saml_world["service_provider"]("公积金查询")
        await _into_the_cas_app(saml_world, cas.url)
        signed_in = await _into_the_saml_app(saml_world, sp)
        assert sp.client.is_logged_in(signed_in.name_id)
        id_token = await _into_the_oidc_app(saml_world)

        if how == "signed_out_at_an_oidc_app":
            await _sign_out_at_the_oidc_app(saml_world, id_token)
        else:
            await _end_by_an_administrator(saml_world)

        deadline = time.monotonic() + 20
        while True:
            cas_out = (await browser.http.get(f"{cas.url}/private/")).status_code == 302
            if cas_out and sp.logouts:
                break
            assert time.monotonic() < deadline, (
                f"CAS app out: {cas_out}, SAML app out: {bool(sp.logouts)}"
            )
            await asyncio.sleep(0.2)
        assert sp.logouts[0].name_id.text == signed_in.name_id.text
        assert not sp.client.is_logged_in(signed_in.name_id)
        # The 一号通 session itself is over too: the CAS app's next sign-in asks again.
        again = await browser.http.get(
            "/cas/login", params={"service": f"{cas.url}/accounts/login/"}
        )
        assert again.headers["location"].startswith("/login?tx=")
    finally:
        cas.stop()
