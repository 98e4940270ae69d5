"""The key ring on SQLite and PostgreSQL: encryption at rest, publication, rotation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select

from keys.master import MasterKey, MasterKeyError, create_master_key_file
from keys.ring import RETIRE_GRACE_SECONDS, KeyRing, KeyRotationTooSoon
from store.clock import FakeClock
from store.database import Database
from store.signing_keys import SigningKeyStore
from store.tables import SigningKeyRow

TOKEN_TTL = 600
JWKS_MAX_AGE = 300


@pytest.fixture
def master_key(tmp_path: Path) -> MasterKey:
    path = tmp_path / "master.key"
    assert create_master_key_file(path)
    return MasterKey.from_file(path)


def make_ring(
    database: Database, master_key: MasterKey, clock: FakeClock, algs: list[str] | None = None
) -> KeyRing:
    return KeyRing(
        SigningKeyStore(database),
        master_key,
        clock,
        algs or ["ES256"],
        longest_token_ttl=TOKEN_TTL,
        jwks_max_age=JWKS_MAX_AGE,
        rotation_days=90,
    )


def sign(ring: KeyRing, alg: str | None = None) -> str:
    return ring.sign({"sub": "x"}, alg)


def verifies(token: str, ring: KeyRing) -> bool:
    keys = KeySet.import_key_set(json.loads(ring.jwks_json()))
    try:
        jwt.decode(token, keys, algorithms=["RS256", "ES256", "EdDSA"])
    except JoseError:
        return False
    return True


async def test_ensure_creates_an_active_and_a_next_key_once(database, master_key, clock) -> None:
    ring = make_ring(database, master_key, clock, ["RS256", "ES256", "EdDSA"])
    await ring.ensure()
    await ring.ensure()
    states = sorted((r.alg, r.state) for r in ring.records())
    assert states == [
        ("ES256", "active"), ("ES256", "next"),
        ("EdDSA", "active"), ("EdDSA", "next"),
        ("RS256", "active"), ("RS256", "next"),
    ]  # fmt: skip
    for alg in ("RS256", "ES256", "EdDSA"):
        token = sign(ring, alg)
        assert verifies(token, ring)
        header = jwt.decode(token, ring.signing_key(alg), algorithms=[alg]).header
        assert (header["alg"], header["kid"]) == (alg, ring.signing_key(alg).kid)


async def test_jwks_holds_public_keys_only(database, master_key, clock) -> None:
    ring = make_ring(database, master_key, clock, ["RS256", "ES256", "EdDSA"])
    await ring.ensure()
    document = json.loads(ring.jwks_json())
    assert len(document["keys"]) == 6
    for jwk in document["keys"]:
        assert {"kid", "alg", "use", "kty"} <= set(jwk)
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk), "private material published"


async def test_private_keys_are_encrypted_at_rest(database, master_key, clock, tmp_path) -> None:
    ring = make_ring(database, master_key, clock)
    await ring.ensure()
    async with database.sessions() as session:
        stored = list(await session.scalars(select(SigningKeyRow.private_key)))
    assert stored and all(value.startswith("v1.") and "PRIVATE" not in value for value in stored)
    other = tmp_path / "other.key"
    create_master_key_file(other)
    with pytest.raises(MasterKeyError):
        await make_ring(database, MasterKey.from_file(other), clock).reload()


async def test_master_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "master.key"
    assert create_master_key_file(path)
    first = path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert not create_master_key_file(path)
    assert path.read_text() == first


async def test_rotation_waits_until_the_next_key_was_published_long_enough(
    database, master_key, clock
) -> None:
    ring = make_ring(database, master_key, clock)
    await ring.ensure()
    with pytest.raises(KeyRotationTooSoon):
        await ring.rotate()
    clock.advance(JWKS_MAX_AGE)
    assert (await ring.rotate()).rotated


async def test_tokens_signed_before_rotation_still_verify(database, master_key, clock) -> None:
    ring = make_ring(database, master_key, clock)
    await ring.ensure()
    old_kid = ring.signing_key().kid
    announced = {r.kid for r in ring.records() if r.state == "next"}
    before = sign(ring)
    clock.advance(JWKS_MAX_AGE)
    result = await ring.rotate()
    assert result.rotated
    assert result.active_kid in announced, "the new signing key must have been published before"
    assert ring.signing_key().kid == result.active_kid != old_kid
    after = sign(ring)
    assert jwt.decode(after, ring.signing_key(), algorithms=["ES256"]).header["kid"] == (
        result.active_kid
    )
    assert verifies(before, ring) and verifies(after, ring)
    published = {jwk["kid"] for jwk in json.loads(ring.jwks_json())["keys"]}
    assert published == {old_kid, result.active_kid, result.next_kid}


async def test_retired_keys_leave_the_jwks_after_their_tokens_expired(
    database, master_key, clock
) -> None:
    ring = make_ring(database, master_key, clock)
    await ring.ensure()
    before = sign(ring)
    clock.advance(JWKS_MAX_AGE)
    await ring.rotate()
    clock.advance(TOKEN_TTL + RETIRE_GRACE_SECONDS - 1)
    assert verifies(before, ring)
    clock.advance(2)
    assert not verifies(before, ring)
    assert len(json.loads(ring.jwks_json())["keys"]) == 2


async def test_another_instance_sees_a_rotation_after_reload(
    database, database_url, master_key, clock
) -> None:
    ring = make_ring(database, master_key, clock)
    await ring.ensure()
    other_db = Database(database_url)
    try:
        other = make_ring(other_db, master_key, clock)
        await other.reload()
        clock.advance(JWKS_MAX_AGE)
        result = await ring.rotate()
        assert other.signing_key().kid != result.active_kid  # until it reloads
        await other.reload()
        assert other.signing_key().kid == result.active_kid
    finally:
        await other_db.close()


async def test_reload_imports_a_private_key_once_per_kid(
    database, database_url, master_key, clock
) -> None:
    """The periodic reload must not decrypt and import unchanged keys again (an RSA import is
    tens of milliseconds on the event loop); after another instance rotates, the new active key
    is imported and the key that stayed the same is kept."""
    ring = make_ring(database, master_key, clock, ["RS256", "ES256"])
    await ring.ensure()
    rsa, ec = ring.signing_key("RS256"), ring.signing_key("ES256")
    published = ring.jwks_json()
    await ring.reload()
    assert ring.signing_key("RS256") is rsa and ring.signing_key("ES256") is ec
    assert ring.jwks_json() is published  # nothing changed: the same document
    other_db = Database(database_url)
    try:
        other = make_ring(other_db, master_key, clock, ["RS256", "ES256"])
        clock.advance(JWKS_MAX_AGE)
        result = await other.rotate("ES256")
    finally:
        await other_db.close()
    await ring.reload()
    assert ring.signing_key("RS256") is rsa
    assert ring.signing_key("ES256").kid == result.active_kid != ec.kid
    assert ring.jwks_json() != published
    assert verifies(sign(ring, "ES256"), ring)


async def test_two_instances_rotating_at_once_make_one_new_key(
    database, database_url, master_key, clock
) -> None:
    ring = make_ring(database, master_key, clock, ["RS256"])
    await ring.ensure()
    generation = ring.generation("RS256")
    clock.advance(JWKS_MAX_AGE)
    other_db = Database(database_url)
    try:
        other = make_ring(other_db, master_key, clock, ["RS256"])
        # Both saw the same generation, as two instances that decided to rotate together.
        results = await asyncio.gather(
            ring.rotate(expected_generation=generation),
            other.rotate(expected_generation=generation),
        )
        assert sorted(r.rotated for r in results) == [False, True]
        # And without the hint: RSA key generation runs in a thread, so both read the ring first.
        clock.advance(JWKS_MAX_AGE)
        results = await asyncio.gather(ring.rotate(), other.rotate())
        assert sorted(r.rotated for r in results) == [False, True]
        await ring.reload()
        states = [r.state for r in ring.records()]
        assert states.count("active") == 1 and states.count("next") == 1
        assert ring.generation("RS256") == generation + 2
    finally:
        await other_db.close()


async def test_rotation_when_due(database, master_key, clock) -> None:
    ring = make_ring(database, master_key, clock)
    await ring.ensure()
    clock.advance(89 * 86400)
    assert await ring.rotate_if_due() == []
    clock.advance(86400)
    (result,) = await ring.rotate_if_due()
    assert result.rotated
    assert await ring.rotate_if_due() == []
