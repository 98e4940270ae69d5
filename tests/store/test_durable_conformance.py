"""One conformance suite for the durable store, run against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest

from store.accounts import AccountStore
from store.clients import ClientStore
from store.database import Database
from store.errors import Conflict
from store.migrate import current_revision, head_revision, upgrade
from store.records import Account, Client, SigningKey
from store.signing_keys import SigningKeyStore

NOW = 1_800_000_000.0


def an_account(username: str = "alice", **fields: object) -> Account:
    values: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "username": username,
        "name": "张三",
        "phone": "13800138000",
        "email": "alice@example.gov.cn",
        "password_hash": "$argon2id$old",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return Account(**values)  # type: ignore[arg-type]


def a_key(kid: str, state: str, alg: str = "ES256", created_at: float = NOW) -> SigningKey:
    return SigningKey(
        kid=kid,
        alg=alg,
        state=state,
        public_jwk={"kty": "EC", "kid": kid},
        private_key="v1.sealed",
        created_at=created_at,
        activated_at=created_at if state == "active" else None,
    )


async def test_migrations_reach_head_and_are_idempotent(database: Database) -> None:
    assert await current_revision(database) == head_revision()
    await upgrade(database)  # a second run changes nothing and does not fail
    assert await current_revision(database) == head_revision()


async def test_concurrent_migrations_do_not_collide(database_url: str) -> None:
    first, second = Database(database_url), Database(database_url)
    try:
        await asyncio.gather(upgrade(first), upgrade(second))
        assert await current_revision(first) == head_revision()
    finally:
        await first.close()
        await second.close()


async def test_account_round_trip(database: Database) -> None:
    store = AccountStore(database)
    account = an_account()
    await store.create(account)
    # A phone typed with the account is kept sealed among its identifiers, never in this row.
    kept = dataclasses.replace(account, phone=None)
    assert await store.get(account.id) == kept
    assert await store.by_username("alice") == kept
    assert await store.get(str(uuid.uuid4())) is None
    assert await store.by_username("bob") is None


async def test_duplicate_username_conflicts_and_keeps_the_first(database: Database) -> None:
    store = AccountStore(database)
    first = an_account()
    await store.create(first)
    with pytest.raises(Conflict):
        await store.create(an_account(name="冒名"))
    assert await store.by_username("alice") == dataclasses.replace(first, phone=None)


async def test_password_hash_swap_is_compare_and_set(database: Database) -> None:
    store = AccountStore(database)
    account = an_account()
    await store.create(account)
    assert await store.replace_password_hash(account.id, "$argon2id$old", "$argon2id$new", NOW + 1)
    # A rehash computed from the old hash must not undo the change.
    assert not await store.replace_password_hash(account.id, "$argon2id$old", "$stale", NOW + 2)
    stored = await store.get(account.id)
    assert stored is not None
    assert stored.password_hash == "$argon2id$new"
    assert stored.updated_at == NOW + 1


async def test_client_round_trip(database: Database) -> None:
    store = ClientStore(database)
    client = Client(
        client_id="c1",
        name="市民服务",
        public=False,
        secret_digest="ab" * 32,
        redirect_uris=("https://app.example.gov.cn/cb", "http://127.0.0.1/cb"),
        post_logout_redirect_uris=("https://app.example.gov.cn/bye",),
        backchannel_logout_uri="https://app.example.gov.cn/bcl",
        grant_types=("authorization_code", "refresh_token"),
        scopes=("api.read",),
        require_consent=True,
        created_at=NOW,
        updated_at=NOW,
    )
    await store.create(client)
    assert await store.get("c1") == client
    assert await store.get("missing") is None
    with pytest.raises(Conflict):
        await store.create(client)
    public = Client(client_id="c2", name="移动办公", public=True, created_at=NOW + 1)
    await store.create(public)
    assert [c.client_id for c in await store.list()] == ["c1", "c2"]


async def test_key_ring_initializes_once(database: Database) -> None:
    store = SigningKeyStore(database)
    assert await store.initialize("ES256", a_key("a1", "active"), a_key("n1", "next"), NOW)
    assert not await store.initialize("ES256", a_key("a2", "active"), a_key("n2", "next"), NOW)
    generations, keys = await store.load()
    assert generations == {"ES256": 1}
    assert sorted((k.kid, k.state) for k in keys) == [("a1", "active"), ("n1", "next")]


async def test_rotation_moves_keys_along(database: Database) -> None:
    store = SigningKeyStore(database)
    await store.initialize("ES256", a_key("a1", "active"), a_key("n1", "next"), NOW)
    assert await store.rotate(
        "ES256", 1, a_key("n2", "next", created_at=NOW + 10), NOW + 10, NOW + 100
    )
    generations, keys = await store.load()
    assert generations == {"ES256": 2}
    by_kid = {k.kid: k for k in keys}
    assert by_kid["a1"].state == "retired"
    assert by_kid["a1"].retired_at == NOW + 10
    assert by_kid["a1"].publish_until == NOW + 100
    assert by_kid["n1"].state == "active"
    assert by_kid["n1"].activated_at == NOW + 10
    assert by_kid["n2"].state == "next"


async def test_rotation_compare_and_swap_refuses_a_stale_generation(database: Database) -> None:
    store = SigningKeyStore(database)
    await store.initialize("ES256", a_key("a1", "active"), a_key("n1", "next"), NOW)
    assert await store.rotate("ES256", 1, a_key("n2", "next"), NOW + 10, NOW + 100)
    assert not await store.rotate("ES256", 1, a_key("n3", "next"), NOW + 11, NOW + 101)
    _, keys = await store.load()
    assert "n3" not in {k.kid for k in keys}
    assert [k.kid for k in keys if k.state == "active"] == ["n1"]


async def test_concurrent_rotations_from_two_instances_yield_one_new_key(database_url: str) -> None:
    first, second = Database(database_url), Database(database_url)
    try:
        await upgrade(first)
        await SigningKeyStore(first).initialize(
            "ES256", a_key("a1", "active"), a_key("n1", "next"), NOW
        )
        results = await asyncio.gather(
            SigningKeyStore(first).rotate("ES256", 1, a_key("x", "next"), NOW + 5, NOW + 50),
            SigningKeyStore(second).rotate("ES256", 1, a_key("y", "next"), NOW + 5, NOW + 50),
        )
        assert sorted(results) == [False, True]
        generations, keys = await SigningKeyStore(first).load()
        assert generations == {"ES256": 2}
        assert len([k for k in keys if k.state == "next"]) == 1
        assert len([k for k in keys if k.state == "active"]) == 1
    finally:
        await first.close()
        await second.close()


async def test_rotation_drops_retired_keys_whose_publication_ended(database: Database) -> None:
    store = SigningKeyStore(database)
    await store.initialize("ES256", a_key("a1", "active"), a_key("n1", "next"), NOW)
    await store.rotate("ES256", 1, a_key("n2", "next"), NOW + 10, NOW + 20)  # a1 until NOW+20
    await store.rotate("ES256", 2, a_key("n3", "next"), NOW + 30, NOW + 90)  # n1 until NOW+90
    _, keys = await store.load()
    assert {k.kid: k.state for k in keys} == {"n1": "retired", "n2": "active", "n3": "next"}


async def test_rings_of_different_algorithms_are_independent(database: Database) -> None:
    store = SigningKeyStore(database)
    await store.initialize("ES256", a_key("e1", "active"), a_key("e2", "next"), NOW)
    await store.initialize(
        "RS256", a_key("r1", "active", alg="RS256"), a_key("r2", "next", alg="RS256"), NOW
    )
    assert await store.rotate("RS256", 1, a_key("r3", "next", alg="RS256"), NOW + 1, NOW + 9)
    generations, keys = await store.load()
    assert generations == {"ES256": 1, "RS256": 2}
    assert {k.kid: k.state for k in keys if k.alg == "ES256"} == {"e1": "active", "e2": "next"}
