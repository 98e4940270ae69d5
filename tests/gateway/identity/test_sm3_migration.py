"""A department whose old users table keeps salted SM3 hashes (base64): people sign in with the
password they have, and 一号通 keeps it (argon2id) so the table can be retired."""

from __future__ import annotations

import base64
from pathlib import Path

import sqlalchemy as sa
from gmssl import func, sm3
from sqlalchemy.ext.asyncio import create_async_engine

from tests.gateway.browser import Browser
from tests.gateway.helpers import id_token_after, second_instance
from tests.gateway.sso import CALLBACK, authorize_url


def sm3_base64(data: bytes) -> str:
    return base64.b64encode(bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(data)))).decode()


async def test_sm3_passwords_move_into_yihaotong(live_server, tmp_path: Path) -> None:
    table = f"sqlite+aiosqlite:///{tmp_path / 'housing.db'}"
    engine = create_async_engine(table)
    async with engine.begin() as connection:
        await connection.execute(
            sa.text("CREATE TABLE yh (id INTEGER PRIMARY KEY, zh TEXT, mm TEXT, yan TEXT, xm TEXT)")
        )
        await connection.execute(
            sa.text("INSERT INTO yh VALUES (7, 'liuyang', :mm, 'Qx9', '刘洋')"),
            {"mm": sm3_base64("住房-pass".encode() + b"Qx9")},
        )
    async with second_instance(live_server.settings) as admin:
        await admin.login_systems.add("housing", "legacy_sql", {
            "name": "市住建局", "url": table, "table": "yh", "scheme": "sm3",
            "salt_position": "suffix", "encoding": "base64",
            "columns": {"subject": "id", "username": "zh", "password": "mm", "salt": "yan",
                        "name": "xm"},
        })  # fmt: skip
        client = await admin.clients.register(name="住房公积金", redirect_uris=[CALLBACK])

    async def sign_in(password: str):
        browser = Browser(live_server.url)
        try:
            return await browser.go(
                authorize_url(live_server.url, client.client.client_id),
                username="liuyang",
                password=password,
                provider="housing",
            )
        finally:
            await browser.close()

    first = await id_token_after(live_server.url, client, await sign_in("住房-pass"), CALLBACK)
    assert first["name"] == "刘洋"
    async with engine.begin() as connection:  # the department retires its table
        await connection.execute(sa.text("DROP TABLE yh"))
    await engine.dispose()
    again = await id_token_after(live_server.url, client, await sign_in("住房-pass"), CALLBACK)
    assert again["sub"] == first["sub"]
    refused = await sign_in("wrong-pass")
    assert refused.status_code == 400
