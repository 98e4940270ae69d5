"""Everything a running gateway holds open, built from settings in one place.

``initialize`` is what `yihaotong init` does and is safe to repeat or to run from several
instances at once; ``open_services`` is what each process does at start.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.identity.access import AccessService
from gateway.identity.account_cache import AccountCache
from gateway.identity.accounts import AccountService
from gateway.identity.audit import AuditLog
from gateway.identity.clients import ClientService
from gateway.identity.console_client import ensure_console_client
from gateway.identity.delegations import DelegationService
from gateway.identity.errors import GatewayError
from gateway.identity.federation import FederationService
from gateway.identity.login_systems import LoginSystemService
from gateway.identity.mail import SmtpSender
from gateway.identity.notices import Notices
from gateway.identity.otp import OtpService
from gateway.identity.passkeys import PasskeyService
from gateway.identity.password_changes import PasswordChanges
from gateway.identity.passwords import Passwords
from gateway.identity.phone_accounts import PhoneAccounts
from gateway.identity.phone_sealing import seal_clear_phones
from gateway.identity.pii import PiiVault
from gateway.identity.places import SignInPlaces
from gateway.identity.real_name import RealNameConfig, open_checker
from gateway.identity.real_name.levels import RealNameLevels
from gateway.identity.recovery_codes import RecoveryCodes
from gateway.identity.regions import RegionResolver
from gateway.identity.resources import ResourceService
from gateway.identity.sessions import SessionService
from gateway.identity.sms import SmsConfig, SmsSender, open_sender
from gateway.identity.sms_codes import SmsCodes
from gateway.oauth.revocations import Revocations
from gateway.saml.sp_site import site_maker
from gateway.server.csrf import Csrf
from gateway.server.logs import log_line
from gateway.server.settings import Settings
from gateway.server.store_metrics import observe_database, observed_store, unobserved
from keys.master import MasterKey, MasterKeyError, create_master_key_file
from keys.ring import KeyRing
from store import organisation
from store.accounts import AccountStore
from store.app_installations import AppInstallationStore
from store.clients import ClientStore
from store.clock import Clock, SystemClock
from store.consents import ConsentStore
from store.database import Database
from store.identities import IdentityStore
from store.kv import ExpiringStore
from store.memory import MemoryStore
from store.migrate import current_revision, head_revision, upgrade
from store.otp import OtpStore
from store.passkeys import PasskeyStore
from store.phones import PhoneStore
from store.providers import ProviderStore
from store.real_name import RealNameStore
from store.records import Account
from store.recovery_codes import RecoveryCodeStore
from store.refresh_tokens import RefreshTokenStore
from store.resources import ResourceStore
from store.revocations import RevocationStore
from store.sign_in_places import SignInPlaceStore
from store.signing_keys import SigningKeyStore
from store.subjects import SubjectStore

if TYPE_CHECKING:
    from store.redis_channel import RedisChannel


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
    master_key: MasterKey
    refresh_tokens: RefreshTokenStore
    consents: ConsentStore
    subjects: SubjectStore
    sessions: SessionService
    pairwise_key: bytes
    csrf: Csrf
    login_systems: LoginSystemService
    federation: FederationService
    logins: ProviderStore
    audit: AuditLog
    access: AccessService
    delegations: DelegationService
    otp: OtpService
    revocations: Revocations
    passkeys: PasskeyService
    sms: SmsSender
    sms_codes: SmsCodes
    phone_accounts: PhoneAccounts
    recovery_codes: RecoveryCodes
    real_name: RealNameLevels
    notices: Notices
    password_changes: PasswordChanges
    app_installations: AppInstallationStore
    resources: ResourceService
    places: SignInPlaces

    async def close(self) -> None:
        await self.accounts.close()
        await self.audit.close()
        await self.login_systems.close()
        await self.expiring.close()
        await self.database.close()


def open_expiring_store(settings: Settings, clock: Clock) -> ExpiringStore:
    if settings.redis_url:
        from store.redis_kv import RedisStore  # the redis extra is optional

        return observed_store(
            RedisStore.from_url(settings.redis_url, settings.redis_prefix), "redis"
        )
    return observed_store(MemoryStore(clock), "memory")


def shared_channel(settings: Settings, expiring: ExpiringStore, name: str) -> RedisChannel | None:
    """A pub/sub channel among the instances sharing Redis; None with the in-process store."""
    if not settings.redis_url:
        return None
    from store.redis_channel import RedisChannel
    from store.redis_kv import RedisStore

    expiring = unobserved(expiring)
    if not isinstance(expiring, RedisStore):
        raise TypeError("YIHAOTONG_REDIS_URL is set, so the expiring store is Redis")
    return RedisChannel(expiring, name)


def _key_ring(
    settings: Settings, database: Database, clock: Clock, master_key: MasterKey | None = None
) -> KeyRing:
    return KeyRing(
        SigningKeyStore(database),
        master_key or MasterKey.from_file(settings.resolved_master_key_file),
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
        master_key = MasterKey.from_file(master_key_file)
        await ensure_console_client(database, settings.issuer, master_key, clock.now())
        await seal_clear_phones(database, master_key, clock)
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
    database = Database(settings.resolved_database_url, settings.database_pool_size)
    observe_database(database)
    try:
        master_key = MasterKey.from_file(settings.resolved_master_key_file)
        keys = _key_ring(settings, database, clock, master_key)
        await keys.reload()
    except BaseException:
        await database.close()  # a master key that does not open the keys leaves nothing open
        raise
    passwords = Passwords(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    expiring = open_expiring_store(settings, clock)
    sessions = SessionService(expiring, settings, clock)
    provider_store = ProviderStore(database)
    audit = AuditLog(database, clock, settings.data_dir / "audit-spool", log_line)
    federation = FederationService(
        IdentityStore(database), AccountStore(database), PiiVault(master_key), clock, audit
    )

    async def index_identifiers(account: Account) -> None:
        await federation.register_identifiers(
            account.id, {"phone": account.phone, "email": account.email}
        )

    login_systems = LoginSystemService(provider_store, master_key, clock, site_maker(settings))
    otp = OtpService(OtpStore(database), master_key, clock)
    passkeys = PasskeyService(PasskeyStore(database), expiring, clock, settings.issuer, "一号通")
    account_store = AccountStore(database)
    account_cache = None
    if not database.is_sqlite and settings.account_cache_seconds > 0:
        account_cache = AccountCache(
            account_store.get,
            database.engine,
            settings.account_cache_seconds,
            load_facts=functools.partial(organisation.read_account_facts, database),
        )
        await account_cache.start()
    vault = PiiVault(master_key)
    sms = open_sender(sms_config(settings), clock.now)
    regions = await asyncio.to_thread(RegionResolver.open, settings.ip_region_db)
    return Services(
        settings=settings,
        clock=clock,
        database=database,
        expiring=expiring,
        keys=keys,
        clients=ClientService(ClientStore(database), clock, settings.client_cache_seconds),
        accounts=AccountService(account_store, passwords, clock, index_identifiers, account_cache),
        passwords=passwords,
        master_key=master_key,
        refresh_tokens=RefreshTokenStore(database),
        consents=ConsentStore(database),
        subjects=SubjectStore(database),
        sessions=sessions,
        pairwise_key=master_key.derive("pairwise-subject"),
        csrf=Csrf(master_key.derive("csrf"), sessions.secure),
        login_systems=login_systems,
        federation=federation,
        logins=provider_store,
        audit=audit,
        access=AccessService(
            database,
            login_systems,
            otp,
            passkeys,
            clock,
            settings.client_cache_seconds,
            account_cache,
        ),
        delegations=DelegationService(database, audit, clock, AccountStore(database)),
        otp=otp,
        revocations=Revocations(
            RevocationStore(database), expiring, clock, settings.access_token_ttl + 60
        ),
        passkeys=passkeys,
        sms=sms,
        sms_codes=SmsCodes(expiring, master_key.derive("sms-codes"), vault),
        phone_accounts=PhoneAccounts(PhoneStore(database), vault, clock),
        recovery_codes=RecoveryCodes(
            RecoveryCodeStore(database), master_key.derive("recovery-codes"), clock
        ),
        real_name=RealNameLevels(
            open_checker(real_name_config(settings), clock.now),
            RealNameStore(database),
            IdentityStore(database),
            vault,
            expiring,
            clock,
        ),
        notices=Notices(sms, IdentityStore(database), vault, audit, mail_sender(settings)),
        password_changes=PasswordChanges(account_store, passwords, clock),
        app_installations=AppInstallationStore(database),
        resources=ResourceService(ResourceStore(database), clock, settings.client_cache_seconds),
        places=SignInPlaces(SignInPlaceStore(database), regions, clock),
    )


def mail_sender(settings: Settings) -> SmtpSender | None:
    config = settings.smtp_config()
    return None if config is None else SmtpSender(config)


def real_name_config(settings: Settings) -> RealNameConfig:
    return RealNameConfig(
        backend=settings.real_name_backend,
        fixtures_file=settings.real_name_fixtures_file,
        http_url=settings.real_name_http_url,
        http_secret=settings.real_name_http_secret,
    )


def sms_config(settings: Settings) -> SmsConfig:
    return SmsConfig(
        backend=settings.sms_backend,
        outbox=str(settings.data_dir / "sms-outbox.jsonl"),
        sign_name=settings.sms_sign_name,
        template_id=settings.sms_template_id,
        notice_template_id=settings.sms_notice_template_id,
        http_url=settings.sms_http_url,
        http_secret=settings.sms_http_secret,
        access_key_id=settings.sms_access_key_id,
        access_key_secret=settings.sms_access_key_secret,
        endpoint=settings.sms_endpoint,
        region=settings.sms_region,
        app_id=settings.sms_app_id,
    )
