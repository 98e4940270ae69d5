"""Checking a username and password at the chosen login system — 一号通's own accounts or a
department's — and turning the answer into the 一号通 account to sign in."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from typing import Any

from gateway.identity.login_systems import LoginSystem
from gateway.identity.metrics import login_system_call
from gateway.server.services import Services
from policies.accounts import canonical_username
from policies.assurance import stronger
from providers.base import AccountLocked, Identity, ProviderUnavailable
from store.records import Account

LOCAL = "local"


@dataclass
class SignIn:
    account: Account | None = None
    acr: str = "L1"
    idp: str = LOCAL
    idp_subject: str = ""
    error: str | None = None  # a message key of the sign-in page
    detail: dict[str, str] = field(default_factory=dict)
    status: int = 400
    pending_link: dict[str, Any] | None = None  # proven by signing in to ``account_id``
    problem: str | None = None  # the check a department's answer failed, for the audit log


def locked_message(refused: AccountLocked) -> str:
    """The sign-in page's words for an account its department refuses."""
    if refused.reason in ("expired", "must_change"):
        return "upstream_password_change"
    return "upstream_locked"  # locked or disabled: the same words for both


def upstream_failed(services: Services, login_system: LoginSystem, error: Exception) -> SignIn:
    """A department that could not answer: shown unavailable for a while, logged once (its
    reason, or only the kind of an unexpected error, which may quote a secret)."""
    why = error.reason if isinstance(error, ProviderUnavailable) else None
    services.login_systems.mark_down(login_system.id, why or f"unexpected {type(error).__name__}")
    return SignIn(error="upstream_down", detail={"department": login_system.name}, status=503)


def identity_to_dict(identity: Identity) -> dict[str, Any]:
    data = asdict(identity)
    data.pop("raw")
    data["verified"] = sorted(identity.verified)
    data["groups"] = list(identity.groups)
    return data


def identity_from_dict(data: dict[str, Any]) -> Identity:
    return Identity(
        **{**data, "verified": frozenset(data["verified"]), "groups": tuple(data["groups"])}
    )


def _checkable(username: str, password: str) -> bool:
    return bool(username and password) and len(password) <= 1024


def read_holder_ahead(
    services: Services, provider_id: str, username: str, password: str
) -> asyncio.Future[Account | None] | None:
    """For a 一号通 password, the account it will be checked against, read from now on, so that
    the read goes out with the sign-in page's own (pass it to ``password_sign_in``)."""
    if provider_id != LOCAL or not _checkable(username, password):
        return None
    return asyncio.ensure_future(services.accounts.password_holder(username))


async def password_sign_in(
    services: Services,
    provider_id: str,
    username: str,
    password: str,
    holder: asyncio.Future[Account | None] | None = None,
) -> SignIn:
    if not _checkable(username, password):
        return SignIn(error="bad_credentials")
    if provider_id == LOCAL:
        account = await services.accounts.authenticate(username, password, holder=holder)
        if account is None:
            return SignIn(error="bad_credentials")
        return SignIn(account=account, acr=account.assurance, idp_subject=account.id)

    login_system = await services.login_systems.get(provider_id)
    if login_system is None:
        broken = await services.login_systems.broken(provider_id)
        if broken is not None:  # not the person's fault, and no password was checked
            return SignIn(
                error="upstream_unavailable", detail={"department": broken.name}, status=503
            )
        return SignIn(error="bad_credentials")
    if not login_system.takes_passwords:
        return SignIn(error="bad_credentials")
    # A department password already moved into 一号通 is checked here, not upstream.
    migrated = await services.logins.migrated(provider_id, canonical_username(username))
    if migrated is not None:
        account = await services.accounts.get(migrated)
        checked = await services.passwords.verify(
            account.password_hash if account else None, password
        )
        if account is None or account.disabled or not checked.ok:
            return SignIn(error="bad_credentials")
        # The password lives here now: the department is not asked, at sign-in or refresh.
        return SignIn(
            account=account,
            acr=stronger(account.assurance, login_system.trust.assurance),
            idp_subject=account.id,
        )
    try:
        with login_system_call(provider_id):
            identity = await login_system.provider.login(username, password)
    except AccountLocked as refused:
        return SignIn(error=locked_message(refused), detail={"department": login_system.name})
    except Exception as error:  # one department's failure is never the page's
        return upstream_failed(services, login_system, error)
    services.login_systems.mark_up(provider_id)
    if identity is None:
        return SignIn(error="bad_credentials")
    return await resolve_identity(services, login_system, identity, password, username)


async def resolve_identity(
    services: Services,
    login_system: LoginSystem,
    identity: Identity,
    password: str | None = None,
    username: str | None = None,
) -> SignIn:
    """The 一号通 account of a department login (linking rules), or why there is none yet."""
    provider_id = login_system.id
    resolution = await services.federation.resolve(identity, login_system.trust)
    account = resolution.account
    if resolution.decision.outcome == "prove" and account is not None:
        pending = {"account_id": account.id, "identity": identity_to_dict(identity)}
        return SignIn(
            error="prove_first", detail={"department": login_system.name}, pending_link=pending
        )
    if account is None or account.disabled:
        return SignIn(error="bad_credentials")
    if identity.migrate_password and password and username and account.password_hash is None:
        new_hash = await services.passwords.hash_async(password)
        if await services.accounts.adopt_password(account.id, new_hash):
            await services.logins.remember_migrated(
                provider_id, canonical_username(username), account.id, services.clock.now()
            )
    # A platform that grades each login (the province's real-name level) is taken at its word.
    level = identity.assurance or login_system.trust.assurance
    return SignIn(
        account=account,
        acr=stronger(account.assurance, level),
        idp=provider_id,
        idp_subject=identity.subject,
    )


async def complete_pending_link(
    services: Services, pending: dict[str, Any], account: Account
) -> bool:
    """After the person proved they own ``account`` by signing in to it: link the department
    login that pointed at it (and nothing else)."""
    if pending.get("account_id") != account.id:
        return False
    identity = identity_from_dict(pending["identity"])
    await services.federation.link(identity, account.id, why="ownership proven by sign-in")
    return True
