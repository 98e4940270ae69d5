"""Refresh-token storage on SQLite and PostgreSQL: what goes in comes out, and rotation claims a
token exactly once (also when two rotations race), writing its successor only then."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from store.database import Database
from store.records import RefreshToken
from store.refresh_tokens import RefreshTokenStore

NOW = 1_800_000_000.5


def a_token(digest: str, **fields: object) -> RefreshToken:
    values: dict[str, object] = {
        "digest": digest,
        "family_id": "family-1",
        "client_id": "app",
        "account_id": "acc",
        "scope": "openid offline_access",
        "offline": True,
        "auth_time": NOW - 60,
        "created_at": NOW,
        "expires_at": NOW + 3600,
        "sid": "sid-1",
        "acr": "L2",
        "amr": ("otp", "pwd"),
        "access_jti": "jti-1",
        "act_for": "firm-1",
    }
    values.update(fields)
    return RefreshToken(**values)  # type: ignore[arg-type]


async def test_a_token_comes_back_as_it_went_in(database: Database) -> None:
    store = RefreshTokenStore(database)
    token = a_token("d1")
    await store.add(token)
    assert await store.get("d1") == token
    assert await store.get("missing") is None


async def test_rotation_claims_once_and_writes_the_successor_only_then(database: Database) -> None:
    store = RefreshTokenStore(database)
    await store.add(a_token("d1"))
    assert await store.rotate("d1", a_token("d2", created_at=NOW + 5), NOW + 5)
    used = await store.get("d1")
    assert used is not None and used.used_at == NOW + 5
    assert await store.get("d2") == a_token("d2", created_at=NOW + 5)
    assert not await store.rotate("d1", a_token("d3"), NOW + 6)
    assert await store.get("d3") is None


async def test_racing_rotations_leave_one_successor(database: Database) -> None:
    store = RefreshTokenStore(database)
    await store.add(a_token("d1"))
    results = await asyncio.gather(
        *(store.rotate("d1", a_token(f"s{n}"), NOW + 1) for n in range(6))
    )
    assert sorted(results) == [False] * 5 + [True]
    successors = [await store.get(f"s{n}") for n in range(6)]
    assert sum(found is not None for found in successors) == 1


async def test_a_revoked_token_does_not_rotate(database: Database) -> None:
    store = RefreshTokenStore(database)
    await store.add(a_token("d1"))
    await store.revoke_family("family-1", NOW + 1)
    assert not await store.rotate("d1", replace(a_token("d2")), NOW + 2)
    assert await store.get("d2") is None
