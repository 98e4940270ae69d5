"""A global role held only inside a department subtree opens only apps that are about that
subtree (the app's own department lies inside it, or its policy admits only departments
inside it), never a city-wide app; an app's own roles count for that app wherever held."""

from __future__ import annotations

import sqlalchemy as sa

from store import roles
from store.tables import ClientRow
from tests.gateway.browser import Browser
from tests.gateway.helpers import second_instance
from tests.gateway.identity.test_access_policies import (  # noqa: F401 (the fixture)
    CALLBACK,
    PASSWORD,
    authorize_url,
    city,
    claims,
    exchange,
    set_policy,
)


async def test_a_global_role_held_in_a_subtree_opens_only_apps_of_that_subtree(city) -> None:  # noqa: F811
    live, city_app, _, zhao = city  # zhao works in /city/tax
    async with second_instance(live.settings) as admin:
        apps = {"city": city_app}
        for name, department in (("tax", "tax"), ("police", "police"), ("tax-only", None)):
            apps[name] = await admin.clients.register(name=name, redirect_uris=[CALLBACK])
            if department:
                async with admin.database.transaction() as session:
                    await session.execute(
                        sa.update(ClientRow)
                        .where(ClientRow.client_id == apps[name].client.client_id)
                        .values(department_id=department)
                    )
        async with admin.database.transaction() as session:
            clerk = await roles.create_role(session, "g1", "", "clerk", "", 0)
            await roles.assign(session, "a1", clerk.id, zhao.id, "tax", "t", 0, None)
        for name in ("city", "tax", "police"):
            await set_policy(admin, apps[name].client.client_id, {"roles": ["clerk"]})
        await set_policy(
            admin, apps["tax-only"].client.client_id, {"roles": ["clerk"], "departments": ["tax"]}
        )
    outcomes = {}
    for name, registered in apps.items():
        browser = Browser(live.url)
        try:
            arrival = await browser.go(
                authorize_url(live.url, registered.client.client_id),
                username="zhao",
                password=PASSWORD,
            )
            if arrival.status_code == 403:
                outcomes[name] = "denied"
            else:
                token = claims((await exchange(live.url, registered, arrival))["id_token"])
                outcomes[name] = (token.get("roles"), token.get("role_scopes"))
        finally:
            await browser.close()
    held = (["clerk"], {"clerk": ["/city/tax"]})
    assert outcomes == {"city": "denied", "police": "denied", "tax": held, "tax-only": held}


async def test_a_global_role_held_in_a_subtree_is_not_claimed_to_a_city_wide_app(city) -> None:  # noqa: F811
    live, city_app, _, zhao = city
    async with second_instance(live.settings) as admin:
        async with admin.database.transaction() as session:
            clerk = await roles.create_role(session, "g1", "", "clerk", "", 0)
            auditor = await roles.create_role(session, "g2", "", "auditor", "", 0)
            await roles.assign(session, "a1", clerk.id, zhao.id, "tax", "t", 0, None)
            await roles.assign(session, "a2", auditor.id, zhao.id, "", "t", 0, None)
        await set_policy(
            admin, city_app.client.client_id, {"claims": {"global_roles": ["clerk", "auditor"]}}
        )
    browser = Browser(live.url)
    try:
        arrival = await browser.go(
            authorize_url(live.url, city_app.client.client_id), username="zhao", password=PASSWORD
        )
        token = claims((await exchange(live.url, city_app, arrival))["id_token"])
    finally:
        await browser.close()
    assert token["roles"] == ["auditor"] and "role_scopes" not in token
