"""Everything a running gateway holds open, built from settings in one place.

``initialize`` is what `yihaotong init` does and is safe to repeat or to run from several
instances at once; ``open_services`` is what each process does at start.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.accounts import AccountService
from gateway.clients import ClientService
from gateway.errors import GatewayError
from gateway.passwords import Passwords
from gateway.settings import Settings
from keys.master import MasterKey, MasterKeyError, create_master_key_file
from keys.ring import KeyRing
from store.accounts import AccountStore
from store.clients import ClientStore
from store.clock import Clock, SystemClock
from store.database import Database
from store.kv import ExpiringStore
from store.memory import MemoryStore
from store.migrate import current_revision, head_revision, upgrade
from store.signing_keys import SigningKeyStore


@dataclass
class Services:
    settings: Settings
    clock: Clock
    database: Database
    expiring: ExpiringStore
    keys: KeyRing
    clients: ClientService
    accounts: AccountService
    passwords: Passwords

    async def close(self) -> None:
        await self.expiring.close()
        await self.database.close()


def open_expiring_store(settings: Settings, clock: Clock) -> ExpiringStore:
    if settings.redis_url:
        from store.redis_kv import RedisStore  # the redis extra is optional

        return RedisStore.from_url(settings.redis_url, settings.redis_prefix)
    return MemoryStore(clock)


def _key_ring(settings: Settings, database: Database, clock: Clock) -> KeyRing:
    return KeyRing(
        SigningKeyStore(database),
        MasterKey.from_file(settings.resolved_master_key_file),
        clock,
        settings.signing_algs,
        longest_token_ttl=settings.longest_token_ttl,
        jwks_max_age=settings.jwks_max_age,
        rotation_days=settings.key_rotation_days,
    )


class NotInitialized(GatewayError):
    """There is no schema or no master key yet: ``yihaotong init`` has not run."""


async def initialize(settings: Settings, clock: Clock | None = None) -> bool:
    """Create the data directory, master key, schema and first signing keys as needed.
    Returns True when a new master key was written."""
    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url)
    try:
        await upgrade(database)
        master_key_file = settings.resolved_master_key_file
        if not master_key_file.exists():
            generations, _ = await SigningKeyStore(database).load()
            if generations:
                # A fresh key now would make every stored private key unreadable.
                raise MasterKeyError(
                    f"the database holds signing keys but the master key file {master_key_file} "
                    "is missing; restore it from the backup"
                )
        created = create_master_key_file(master_key_file)
        await _key_ring(settings, database, clock).ensure()
    finally:
        await database.close()
    return created


async def require_initialized(settings: Settings) -> None:
    """For read-only commands: fail clearly instead of creating anything."""
    if not settings.resolved_master_key_file.exists():
        raise NotInitialized(
            f"no master key at {settings.resolved_master_key_file}; run `yihaotong init` first"
        )
    database = Database(settings.resolved_database_url)
    try:
        if await current_revision(database) != head_revision():
            raise NotInitialized("the database schema is missing or old; run `yihaotong init`")
    finally:
        await database.close()


async def open_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    database = Database(settings.resolved_database_url)
    keys = _key_ring(settings, database, clock)
    await keys.reload()
    passwords = Passwords(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    return Services(
        settings=settings,
        clock=clock,
        database=database,
        expiring=open_expiring_store(settings, clock),
        keys=keys,
        clients=ClientService(ClientStore(database), clock, settings.client_cache_seconds),
        accounts=AccountService(AccountStore(database), passwords, clock),
        passwords=passwords,
    )
