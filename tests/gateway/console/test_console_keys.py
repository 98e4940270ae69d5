"""密钥: the signing keys and their rotation, city-wide only, as the admin API's."""

from __future__ import annotations

import re

from tests.gateway.browser import hidden
from tests.gateway.console.conftest import Console, console_sign_in


def active_kids(html: str) -> list[str]:
    return re.findall(r"<td><code>([^<]+)</code></td>\s*<td>[^<]+</td>\s*<td>当前</td>", html)


async def test_a_rotation_from_the_console_is_the_apis(console: Console) -> None:
    http, _ = await console_sign_in(console, "root")
    try:
        page = await http.get("/admin/keys")
        assert page.status_code == 200
        before = active_kids(page.text)
        assert len(before) == 1
        csrf = hidden(page.text, "csrf_token")
        forced = await http.post("/admin/keys/rotate", data={"csrf_token": csrf, "force": "on"})
        assert forced.status_code == 200 and "已轮换" in forced.text
        after = active_kids(forced.text)
        assert len(after) == 1 and after != before
        assert f"现由 {after[0]} 签名" in forced.text
        # That rotation published a new next key a moment ago: relying parties may not have
        # it yet, so an unforced rotation is refused and changes nothing.
        early = await http.post("/admin/keys/rotate", data={"csrf_token": csrf})
        assert early.status_code == 409
        assert active_kids((await http.get("/admin/keys")).text) == after
    finally:
        await http.aclose()
    async with console.world.http(console.world.city_token) as api:
        listed = (await api.get("/keys")).json()["items"]
        assert [k["kid"] for k in listed if k["state"] == "active"] == after
        audit = (await api.get("/audit", params={"event": "admin.key.rotated"})).json()
        assert [e["target"] for e in audit["items"]] == after


async def test_a_district_administrator_has_no_keys(console: Console) -> None:
    http, landed = await console_sign_in(console, "east-admin")
    try:
        assert 'href="/admin/keys"' not in landed.text
        assert (await http.get("/admin/keys")).status_code == 403
    finally:
        await http.aclose()
