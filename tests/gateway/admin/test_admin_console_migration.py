"""Upgrading a database whose apps held admin scopes before apps were designated for
administration: the city-wide ones (no department) stay admin consoles, a department's do not."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from store.database import Database
from store.migrate import alembic_config, upgrade
from store.tables import EpochTime

CLIENTS = sa.table(
    "clients",
    sa.column("client_id", sa.String),
    sa.column("name", sa.String),
    sa.column("public", sa.Boolean),
    sa.column("redirect_uris", sa.JSON),
    sa.column("post_logout_redirect_uris", sa.JSON),
    sa.column("grant_types", sa.JSON),
    sa.column("scopes", sa.JSON),
    sa.column("require_consent", sa.Boolean),
    sa.column("department_id", sa.String),
    sa.column("created_at", EpochTime()),
    sa.column("updated_at", EpochTime()),
)


def row(client_id: str, scopes: list[str], department_id: str | None) -> dict:
    return {
        "client_id": client_id,
        "name": client_id,
        "public": False,
        "redirect_uris": ["https://a.example/cb"],
        "post_logout_redirect_uris": [],
        "grant_types": ["authorization_code"],
        "scopes": scopes,
        "require_consent": False,
        "department_id": department_id,
        "created_at": 1.0,
        "updated_at": 1.0,
    }


async def test_only_city_wide_apps_with_admin_scopes_become_admin_consoles(
    database_url: str,
) -> None:
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(lambda c: command.upgrade(alembic_config(c), "0008"))
            await connection.execute(
                CLIENTS.insert(),
                [
                    row("console", ["admin:read", "admin:write"], None),
                    row("district-tool", ["admin:write"], "east"),
                    row("portal", ["data.read"], None),
                ],
            )
        await upgrade(database)
        async with database.engine.connect() as connection:
            found = await connection.execute(
                sa.text("SELECT client_id, admin_console FROM clients")
            )
            designated = {client_id: bool(flag) for client_id, flag in found}
    finally:
        await database.close()
    assert designated == {"console": True, "district-tool": False, "portal": False}
