"""应用 → 访问策略: the editor writes the admin API's policy document (keeping what it does not
edit), at the version it was read at; the preview decides a draft for one account with the
gateway's own access decision and saves nothing."""

from __future__ import annotations

from html import unescape

import httpx

from tests.gateway.browser import hidden
from tests.gateway.console.conftest import Console, console_sign_in

EVERY_KIND = {"kind_person": "on", "kind_legal_person": "on", "kind_staff": "on"}


async def policy_of(console: Console, client_id: str) -> httpx.Response:
    async with console.world.http(console.world.city_token) as api:
        return await api.get(f"/clients/{client_id}/policy")


async def preview(http: httpx.AsyncClient, app: str, account: str, **fields: str) -> str:
    page = await http.get(f"/admin/apps/{app}/policy")
    csrf = hidden(page.text, "csrf_token")
    data = {"csrf_token": csrf, "account": account, **fields}
    answer = await http.post(f"/admin/apps/{app}/policy/preview", data=data)
    assert answer.status_code == 200, answer.text
    return answer.text


async def test_the_preview_uses_the_real_decision_and_saves_nothing(console: Console) -> None:
    app = console.world.east_app
    http, _ = await console_sign_in(console, "root")
    try:
        admitted = await preview(http, app, "east-person", departments="east-tax", **EVERY_KIND)
        assert "可以进入。" in admitted and "全部规则均满足" in admitted
        # The west's person is outside the department the draft admits.
        outside = await preview(http, app, "west-person", departments="east-tax", **EVERY_KIND)
        assert "不能进入。" in outside and "不在允许的部门内" in outside
        no_kind = await preview(http, app, "east-person", kind_staff="on")
        assert "账号类型不在允许之列" in no_kind
        level = await preview(http, app, "east-person", min_acr="L3", **EVERY_KIND)
        assert "不能进入。" in level and "实名等级不足" in level
        # An authenticator app is a step away for an enrolled account, none for the others.
        enrolled = await preview(http, app, "root", mfa="on", **EVERY_KIND)
        assert "须先用更强的方式登录" in enrolled and "otp" in enrolled
        not_enrolled = await preview(http, app, "east-person", mfa="on", **EVERY_KIND)
        assert "不能进入。" in not_enrolled and "须多因素登录" in not_enrolled
    finally:
        await http.aclose()
    assert (await policy_of(console, app)).json()["version"] == 0  # still the default


async def test_a_preview_names_only_what_a_save_would_accept(console: Console) -> None:
    """A district administrator previews neither another district's account nor a draft
    naming another district's department."""
    app = console.world.east_app
    http, _ = await console_sign_in(console, "east-admin")
    try:
        page = await http.get(f"/admin/apps/{app}/policy")
        csrf = hidden(page.text, "csrf_token")
        base = {"csrf_token": csrf, **EVERY_KIND}
        url = f"/admin/apps/{app}/policy/preview"
        elsewhere = await http.post(url, data={**base, "account": "west-person"})
        assert elsewhere.status_code == 404
        named = await http.post(url, data={**base, "account": "east-person", "departments": "west"})
        assert named.status_code == 422 and "west" in named.text
        nobody = await http.post(url, data=base)
        assert nobody.status_code == 422
    finally:
        await http.aclose()


async def test_saving_keeps_the_claims_and_the_version_it_was_read_at(console: Console) -> None:
    app = console.world.east_app
    async with console.world.http(console.world.city_token) as api:
        claims = {"rename": {"roles": "authorities"}}
        put = await api.put(f"/clients/{app}/policy", json={"claims": claims})
        assert put.status_code == 200, put.text
    http, _ = await console_sign_in(console, "east-admin")
    try:
        page = await http.get(f"/admin/apps/{app}/policy")
        csrf, version = hidden(page.text, "csrf_token"), unescape(hidden(page.text, "version"))
        form = {"csrf_token": csrf, "version": version, "kind_person": "on", "min_acr": "L2"}
        new_place = {"mfa": "on", "new_place_second_factor": "on"}
        saved = await http.post(f"/admin/apps/{app}/policy", data={**form, **new_place})
        assert saved.status_code == 303
        done = await http.get(saved.headers["location"])
        assert "访问策略已保存。" in done.text
        assert 'name="new_place_second_factor" checked' in done.text
        stale = await http.post(f"/admin/apps/{app}/policy", data=form)
        assert stale.status_code == 412  # the form's version is no longer the policy's
    finally:
        await http.aclose()
    document = (await policy_of(console, app)).json()["document"]
    assert document["kinds"] == ["person"] and document["min_acr"] == "L2" and document["mfa"]
    assert document["new_place_second_factor"] is True
    assert document["claims"]["rename"] == {"roles": "authorities"}
