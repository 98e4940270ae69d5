"""法人: a city administrator appoints and revokes the people who act for an enterprise from the
console, by the enterprise API's rules; the enterprise API sees the same delegations; others
are refused as that API refuses them."""

from __future__ import annotations

import sqlalchemy as sa

from store.tables import AccountRow
from tests.gateway.admin.conftest import make_account
from tests.gateway.browser import hidden
from tests.gateway.console.conftest import Console, console_sign_in
from tests.gateway.helpers import second_instance

ENTERPRISES = "/account/api/v1/enterprises"


async def an_enterprise(console: Console) -> str:
    async with second_instance(console.live.settings) as services:
        org = await make_account(services, "acme-co", "east")
        async with services.database.transaction() as session:
            await session.execute(
                sa.update(AccountRow)
                .where(AccountRow.id == org)
                .values(kind="legal_person", name="东区某公司")
            )
    return org


async def test_a_city_administrator_appoints_and_revokes(console: Console) -> None:
    org = await an_enterprise(console)
    http, _ = await console_sign_in(console, "root")
    try:
        listed = await http.get("/admin/enterprises?q=acme")
        assert f'href="/admin/enterprises/{org}"' in listed.text
        page = await http.get(f"/admin/enterprises/{org}")
        csrf = hidden(page.text, "csrf_token")
        appointed = await http.post(
            f"/admin/enterprises/{org}/delegations",
            data={
                "csrf_token": csrf,
                "member": "east-person",
                "position": "representative",
                "expires": "2099-12-31",
            },
        )
        assert appointed.status_code == 303, appointed.text
        page = await http.get(appointed.headers["location"])
        assert "已任命。" in page.text and "法定代表人" in page.text and "2099-12-31" in page.text
        async with console.world.http(console.world.city_token) as api:
            listing = await api.get(f"{console.live.url}{ENTERPRISES}/{org}/delegations")
        found = listing.json()["items"]
        assert [(d["member_id"], d["position"]) for d in found] == [
            (console.world.east_person, "representative")
        ]
        # A company never acts for a company: the enterprise API's rule, the same answer.
        refused = await http.post(
            f"/admin/enterprises/{org}/delegations",
            data={"csrf_token": csrf, "member": "acme-co", "position": "staff"},
        )
        assert refused.status_code == 422
        revoked = await http.post(
            f"/admin/enterprises/{org}/delegations/{found[0]['id']}/revoke",
            data={"csrf_token": csrf},
        )
        assert revoked.status_code == 303
        assert "已撤销。" in (await http.get(revoked.headers["location"])).text
        a_person = await http.get(f"/admin/enterprises/{console.world.east_person}")
        assert a_person.status_code == 404
    finally:
        await http.aclose()


async def test_only_city_administrators_manage_delegations(console: Console) -> None:
    org = await an_enterprise(console)
    http, landed = await console_sign_in(console, "east-admin")
    try:
        listed = await http.get("/admin/enterprises")  # its enterprises, as GET /accounts
        assert "东区某公司" in listed.text
        assert f'href="/admin/enterprises/{org}"' not in listed.text
        assert (await http.get(f"/admin/enterprises/{org}")).status_code == 403
        csrf = hidden(landed.text, "csrf_token")
        appoint = await http.post(
            f"/admin/enterprises/{org}/delegations",
            data={"csrf_token": csrf, "member": "east-person", "position": "staff"},
        )
        assert appoint.status_code == 403
    finally:
        await http.aclose()
    async with console.world.http(console.world.east_token) as api:
        listing = await api.get(f"{console.live.url}{ENTERPRISES}/{org}/delegations")
        assert listing.status_code == 403


async def test_an_expiry_with_a_time_is_refused_not_a_server_error(console: Console) -> None:
    # The date input's value was taken as any ISO text: "2026-12-31T10:00" became
    # "2026-12-31T10:00T23:59:59+08:00", which no parser reads, and the appointment a 500.
    org = await an_enterprise(console)
    http, _ = await console_sign_in(console, "root")
    try:
        csrf = hidden((await http.get(f"/admin/enterprises/{org}")).text, "csrf_token")
        for expires in ("2099-12-31T10:00", "2099-12-31 10:00"):
            appointed = await http.post(
                f"/admin/enterprises/{org}/delegations",
                data={
                    "csrf_token": csrf,
                    "member": "east-person",
                    "position": "staff",
                    "expires": expires,
                },
            )
            assert appointed.status_code == 422, appointed.text
            assert "YYYY-MM-DD" in appointed.text
    finally:
        await http.aclose()
