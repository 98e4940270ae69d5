"""The Redis store's ``many``: scripts go by EVALSHA in a pipeline, and a server that has lost
them (a restart, a failover) gets them loaded and the steps that failed run again."""

from __future__ import annotations

import secrets

import pytest

from store.kv import Step

pytestmark = pytest.mark.asyncio


async def test_steps_whose_script_the_server_lacks_run_once_loaded(redis_url: str) -> None:
    from store import redis_kv
    from store.redis_kv import RedisStore

    prefix = f"yht-test:{secrets.token_hex(6)}:"
    store = RedisStore.from_url(redis_url, prefix)
    client = store._redis
    # The same scripts, made new by a comment: the server has never seen them.
    fresh = f"\n-- {secrets.token_hex(8)}"
    store._incr = client.register_script(redis_kv._INCR_FIXED_WINDOW + fresh)
    store._sadd = client.register_script(redis_kv._SADD_WITH_TTL + fresh)
    try:
        assert not any(await client.script_exists(store._incr.sha, store._sadd.sha))
        steps = [Step("incr", ("n", 30, 2)), Step("put", ("p", b"v", 30))]
        answers = await store.many(*steps, Step("set_add", ("s", "m", 30)))
        assert answers == [2, None, None]
        assert await store.many(Step("incr", ("n", 30, 1)), Step("get", ("p",))) == [3, b"v"]
        assert await store.set_members("s") == {"m"}
        assert all(await client.script_exists(store._incr.sha, store._sadd.sha))
    finally:
        await client.delete(*(prefix + key for key in ("n", "p", "s")))
        await store.close()


async def test_a_redemption_with_its_ledger_runs_once_the_lost_scripts_are_loaded(
    redis_url: str,
) -> None:
    """The code and its expiry ledger go in one pipeline by EVALSHA: a server without the
    scripts gets them loaded, and the code is redeemed once and leaves the ledger."""
    from store import redis_kv
    from store.redis_kv import RedisStore

    prefix = f"yht-test:{secrets.token_hex(6)}:"
    store = RedisStore.from_url(redis_url, prefix)
    client = store._redis
    fresh = f"\n-- {secrets.token_hex(8)}"
    store._redeem = client.register_script(redis_kv._REDEEM + fresh)
    store._leave = client.register_script(redis_kv._LEDGER_LEAVE + fresh)
    try:
        await store.issue("code", "app", b"grant", 30, ledger="codes")
        assert await client.zcard(prefix + "codes") == 1
        assert not any(await client.script_exists(store._redeem.sha, store._leave.sha))
        redeemed = await store.redeem("code", "app", 30, ledger="codes")
        assert (redeemed.outcome, redeemed.value) == ("redeemed", b"grant")
        assert await client.zcard(prefix + "codes") == 0
        assert (await store.redeem("code", "app", 30, ledger="codes")).outcome == "reused"
    finally:
        await client.delete(*(prefix + key for key in ("code", "codes")))
        await store.close()
