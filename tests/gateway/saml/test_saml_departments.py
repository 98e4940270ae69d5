"""Signing in at 一号通 through a department's SAML identity provider (pysaml2 on a real socket),
the department added through the ``yihaotong`` command: sign-in page → the department's button →
its IdP → the Response posted back → signed in, linked to the account its verified e-mail names,
at the level its authentication class maps to. Every bad answer gets a clear page and an audit
entry, never a 500."""

from __future__ import annotations

import base64
import json
import re
import time
from types import SimpleNamespace
from urllib.parse import urlencode

import httpx
import pyotp
import pytest

from tests.gateway.browser import Browser, hidden
from tests.gateway.cas.conftest import PASSWORD, Command
from tests.gateway.helpers import id_token_after, second_instance
from tests.support import required

CALLBACK = "https://hr.city.gov.cn/cb"
FAILED = "在市人社局的登录没有完成"


@pytest.fixture
async def department(live_server, tmp_path):
    from gateway.saml.idp import available
    from tests.gateway.saml import identity_provider

    required(available(), "pysaml2 and xmlsec1 (pip install '.[saml]')")
    idp = identity_provider.IdentityProvider(tmp_path / "idp")
    async with second_instance(live_server.settings) as admin:
        account = await admin.accounts.create_local(
            username="lisi", password=PASSWORD, name="李四", email=idp.person["mail"]
        )
    command = Command(live_server.settings)
    app = await app_with_policy(command, "社保服务", {"min_acr": "L3"})
    config = {
        "name": "市人社局",
        "metadata_url": f"{idp.url}/metadata",
        "verified": ["email"],
        "trusted_for": ["email"],
        "assurance": "L3",
        "levels": {identity_provider.SMARTCARD_CLASS: "L3", identity_provider.PASSWORD_CLASS: "L2"},
    }
    config_file = tmp_path / "hrss.json"
    config_file.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    added = await command("providers", "add", "--id", "hrss", "--type", "saml",
                          "--config", str(config_file), "--json")  # fmt: skip
    assert added["type"] == "saml"
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        ours = await http.get("/saml/sp/hrss/metadata")
    assert ours.status_code == 200, ours.text
    assert f'entityID="{live_server.url}/saml/sp/hrss/metadata"' in ours.text
    idp.trust(ours.text)  # the department registers 一号通 from its published metadata
    try:
        yield live_server, idp, app, account
    finally:
        idp.close()


async def app_with_policy(command: Command, name: str, policy: dict) -> SimpleNamespace:
    """An OIDC app and its access policy, through the ``yihaotong`` command; shaped as the
    services' ``Registered`` (``client.client_id``, ``client_secret``)."""
    made = await command("clients", "create", "--name", name, "--redirect-uri", CALLBACK, "--json")
    await command("policies", "set", made["client_id"], "-", stdin=json.dumps(policy))
    return SimpleNamespace(
        client=SimpleNamespace(client_id=made["client_id"]), client_secret=made["client_secret"]
    )


async def to_the_idp(live, app, idp) -> tuple[Browser, dict[str, str]]:
    """Start at the app, choose the department, sign in there: the fields its page posts."""
    from tests.gateway.saml.identity_provider import posted_form

    browser = Browser(live.url)
    params = {
        "response_type": "code",
        "client_id": app.client.client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile email",
        "state": "s",
    }
    page = await browser.go(f"{live.url}/oauth/authorize?{urlencode(params)}")
    start = re.search(r'href="(/login/start/hrss\?tx=[^"]+)"', page.text)
    assert start and "市人社局" in page.text, page.text
    leaving = await browser.http.get(start.group(1).replace("&amp;", "&"))
    assert leaving.headers["location"].startswith(f"{idp.url}/sso?SAMLRequest="), leaving.text
    async with httpx.AsyncClient() as idp_side:
        form_page = await idp_side.get(leaving.headers["location"])
    assert form_page.status_code == 200, form_page.text
    action, fields = posted_form(form_page.text)
    assert action == f"{live.url}/saml/sp/hrss/acs"
    return browser, fields


async def back_from_the_idp(browser: Browser, live, fields: dict[str, str]) -> httpx.Response:
    """The cross-site POST to the ACS, then the browser's own way to the end."""
    posted = await browser.http.post("/saml/sp/hrss/acs", data=fields)
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"].startswith("/login/callback/hrss?state=")
    return await browser.go(posted.headers["location"])


async def failures(live) -> list[dict]:
    async with second_instance(live.settings) as admin:
        return [e.details for e in await admin.audit.query(event="login.failed")]


@pytest.mark.slow
async def test_a_smartcard_sign_in_links_the_account_and_enters_an_l3_app(department) -> None:
    from tests.gateway.saml.identity_provider import SMARTCARD_CLASS

    live, idp, app, account = department
    idp.class_ref = SMARTCARD_CLASS
    browser, fields = await to_the_idp(live, app, idp)
    try:
        arrival = await back_from_the_idp(browser, live, fields)
        claims = await id_token_after(live.url, app, arrival, CALLBACK)
    finally:
        await browser.close()
    assert claims["acr"] == "L3" and claims["name"] == "李四"
    async with second_instance(live.settings) as admin:
        links = await admin.federation.links_of(account.id)
        succeeded = await admin.audit.query(event="login.succeeded")
    assert [(link.provider_id, link.subject) for link in links] == [("hrss", "dept-0001")]
    assert [(e.actor, e.details["provider"]) for e in succeeded] == [(account.id, "hrss")]
    assert await failures(live) == []


@pytest.mark.slow
async def test_a_password_sign_in_there_is_l2_and_not_let_into_an_l3_app(department) -> None:
    live, idp, app, _ = department
    browser, fields = await to_the_idp(live, app, idp)
    try:
        arrival = await back_from_the_idp(browser, live, fields)
    finally:
        await browser.close()
    assert arrival.status_code == 200 and "code=" not in arrival.headers.get("location", "")
    assert "需要更高等级的登录（L3）" in arrival.text


@pytest.mark.slow
async def test_access_policy_and_step_up_apply_after_a_department_sign_in(department) -> None:
    from tests.gateway.saml.identity_provider import SMARTCARD_CLASS

    live, idp, _, account = department
    idp.class_ref = SMARTCARD_CLASS
    command = Command(live.settings)
    staff_only = await app_with_policy(command, "内部办公", {"kinds": ["staff"]})
    browser, fields = await to_the_idp(live, staff_only, idp)
    try:
        denied = await back_from_the_idp(browser, live, fields)
    finally:
        await browser.close()
    assert denied.status_code == 403 and "code=" not in denied.headers.get("location", "")

    async with second_instance(live.settings) as admin:
        secret, _ = await admin.otp.begin(account.id, "lisi")
        totp = pyotp.TOTP(secret)
        assert await admin.otp.verify(account.id, totp.at(time.time() - 30), confirming=True)
    second_factor = await app_with_policy(command, "公积金", {"mfa": True})
    browser, fields = await to_the_idp(live, second_factor, idp)
    try:
        asked = await back_from_the_idp(browser, live, fields)
        # Signed in at the department alone; the app needs a second factor: the code page.
        assert asked.status_code == 200 and asked.request.url.path == "/login/otp", asked.text
        answered = await browser.http.post(
            "/login/otp",
            data={
                "tx": hidden(asked.text, "tx"),
                "csrf_token": hidden(asked.text, "csrf_token"),
                "code": totp.now(),
            },
        )
        arrival = await browser.go(answered.headers["location"])
        claims = await id_token_after(live.url, second_factor, arrival, CALLBACK)
    finally:
        await browser.close()
    assert "otp" in claims["amr"] and claims["acr"] == "L3"


BOMB = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&c;</samlp:Response>'
)


def _encoded(xml: str) -> str:
    return base64.b64encode(xml.encode("utf-8")).decode()


def _tampered(fields: dict[str, str]) -> dict[str, str]:
    xml = base64.b64decode(fields["SAMLResponse"]).decode("utf-8")
    return {**fields, "SAMLResponse": _encoded(xml.replace("dept-0001", "dept-0002"))}


@pytest.mark.slow
async def test_every_bad_answer_gets_a_clear_page_and_an_audit_entry(department) -> None:
    live, idp, app, _ = department
    pages = []
    for knob in ("unsigned", "tampered", "audience", "expired", "bomb"):
        idp.sign_assertion = knob != "unsigned"  # the Response itself stays signed
        idp.audience = "https://another.city.gov.cn/sp" if knob == "audience" else None
        idp.lifetime_minutes, idp.issued_minutes_ago = (-10, 20) if knob == "expired" else (5, 0)
        browser, fields = await to_the_idp(live, app, idp)
        if knob == "tampered":
            fields = _tampered(fields)
        elif knob == "bomb":
            fields = {**fields, "SAMLResponse": _encoded(BOMB)}
        try:
            pages.append(await back_from_the_idp(browser, live, fields))
        finally:
            await browser.close()
    assert [p.status_code for p in pages] == [400] * 5
    assert all(FAILED in p.text for p in pages)
    refused = await failures(live)
    assert [(e["provider"], e["reason"]) for e in refused] == [("hrss", "upstream_failed")] * 5
    checks = [e["problem"] for e in refused]
    assert checks == ["signature", "signature", "audience", "expired", "malformed"]


@pytest.mark.slow
async def test_a_replayed_answer_is_refused(department) -> None:
    from tests.gateway.saml.identity_provider import SMARTCARD_CLASS

    live, idp, app, _ = department
    idp.class_ref = SMARTCARD_CLASS
    browser, captured = await to_the_idp(live, app, idp)
    try:
        await back_from_the_idp(browser, live, captured)
        # The same post again: its sign-in is finished, nothing waits for it.
        again = await browser.http.post("/saml/sp/hrss/acs", data=captured)
        assert again.status_code == 400 and "登录页面已过期" in again.text
    finally:
        await browser.close()
    # Brought to a sign-in of its own: not the answer to that sign-in's request.
    browser, fields = await to_the_idp(live, app, idp)
    try:
        page = await back_from_the_idp(
            browser, live, {**captured, "RelayState": fields["RelayState"]}
        )
    finally:
        await browser.close()
    assert page.status_code == 400 and FAILED in page.text
    refused = await failures(live)
    assert [e["reason"] for e in refused] == ["unknown_relay_state", "upstream_failed"]
    assert refused[1]["problem"] == "not_requested"


async def test_no_metadata_for_what_is_not_a_saml_department(live_server) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        missing = await http.get("/saml/sp/nothing/metadata")
        stray = await http.post("/saml/sp/nothing/acs", data={"SAMLResponse": "x"})
    assert missing.status_code == 404
    assert stray.status_code == 400
