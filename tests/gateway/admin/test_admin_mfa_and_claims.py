"""Admin API: resetting a person's authenticator app (a lost phone), and restricted claims
that only city-wide administrators may approve for an app."""

from __future__ import annotations

import pyotp

from store import audit as audit_store
from store import client_policies
from tests.gateway.admin.conftest import World
from tests.gateway.admin.test_admin_api import problem
from tests.gateway.helpers import second_instance


async def test_an_admin_resets_an_authenticator_app(world: World) -> None:
    async with second_instance(world.live.settings) as services:
        started = await services.otp.begin(world.east_person, "east-person")
        assert started is not None
        totp = pyotp.TOTP(started[0])
        assert await services.otp.verify(world.east_person, totp.now(), confirming=True)
        assert await services.otp.enrolled(world.east_person)
    async with world.http(world.east_token) as east:
        assert (await east.delete(f"/accounts/{world.east_person}/otp")).status_code == 204
        problem(await east.delete(f"/accounts/{world.east_person}/otp"), 404)
        # Not in the district admin's part of the organisation: as if it did not exist.
        problem(await east.delete(f"/accounts/{world.west_person}/otp"), 404)
    async with second_instance(world.live.settings) as services:
        assert not await services.otp.enrolled(world.east_person)
        assert await services.otp.begin(world.east_person, "east-person") is not None
        async with services.database.sessions() as session:
            events = await audit_store.query(session, event="admin.account.otp_reset")
    assert [(e.actor, e.target) for e in events] == [(world.east_admin, world.east_person)]


async def test_only_city_wide_admins_approve_restricted_claims(world: World) -> None:
    wanted = {"min_acr": "L2", "claims": {"restricted": ["national_id"]}}
    async with world.http(world.east_token) as east:
        refused = problem(await east.put(f"/clients/{world.east_app}/policy", json=wanted), 403)
        assert "restricted claims" in refused["detail"]
        fine = await east.put(f"/clients/{world.east_app}/policy", json={"min_acr": "L2"})
        assert fine.status_code == 200, fine.text
    async with world.http(world.city_token) as city:
        current = await city.get(f"/clients/{world.east_app}/policy")
        approved = await city.put(
            f"/clients/{world.east_app}/policy",
            json=wanted,
            headers={"If-Match": current.headers["etag"]},
        )
        assert approved.status_code == 200, approved.text
    async with world.http(world.east_token) as east:
        # The district keeps editing its app's policy, as long as the approval stays.
        current = await east.get(f"/clients/{world.east_app}/policy")
        kept = {"min_acr": "L3", "claims": {"restricted": ["national_id"]}}
        edit = await east.put(
            f"/clients/{world.east_app}/policy",
            json=kept,
            headers={"If-Match": current.headers["etag"]},
        )
        assert edit.status_code == 200, edit.text
        dropped = await east.put(f"/clients/{world.east_app}/policy", json={"min_acr": "L3"})
        problem(dropped, 403)
    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        stored = await client_policies.get_policy(session, world.east_app)
    assert stored is not None and stored.document["claims"]["restricted"] == ["national_id"]
    assert stored.document["min_acr"] == "L3"
