"""Administering accounts: finding them, disabling (which ends their sessions), moving them to a
department, clearing a lockout, removing a linked department login, ending their sessions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from gateway.admin.changes import Actor, change, record_after
from gateway.admin.etags import NONE, Precondition, etag_of
from gateway.admin.org import account_to_change, target_department, visible_account
from gateway.admin.reach import Reach
from gateway.identity.pii import PiiVault
from gateway.identity.sessions import SsoSession
from gateway.mobile.devices import end_installation, installations
from gateway.oauth.revocations import end_session_grants
from gateway.pages.lockout import clear_failures
from gateway.server.responses import Missing, Problem
from gateway.server.services import Services
from store import accounts as account_store
from store import admin as admin_store
from store.app_installations import AppInstallation
from store.identities import IdentityStore
from store.records import Account, LinkedIdentity

# Ends one SSO session everywhere (the API's also sends back-channel logout notices).
SessionEnder = Callable[[str], Awaitable[Any]]


def quiet_ender(services: Services) -> SessionEnder:
    async def end(sid: str) -> None:
        if await services.sessions.end(sid) is not None:
            await end_session_grants(services, sid)

    return end


async def list_accounts(
    services: Services, reach: Reach, offset: int, limit: int, **filters: Any
) -> tuple[list[Account], int]:
    async with services.database.sessions() as session:
        return await account_store.list_accounts(session, reach.limit, offset, limit, **filters)


async def find_by_identifier(
    services: Services, reach: Reach, kind: str, value: str
) -> Account | None:
    """The account holding a full phone number or national ID number (``kind`` "phone" or
    "national_id"), found through the keyed blind index; None when none inside the reach."""
    index = PiiVault(services.master_key).blind_index(kind, value)
    found = await IdentityStore(services.database).accounts_by_index({kind: index})
    if kind not in found:
        return None
    try:
        return await get_account(services, reach, found[kind])
    except Problem:  # outside the reach: as if there were none
        return None


async def get_account(services: Services, reach: Reach, account_id: str) -> Account:
    async with services.database.sessions() as session:
        return await visible_account(session, reach, account_id)


async def create_account(
    services: Services,
    actor: Actor,
    reach: Reach,
    values: dict[str, Any],
    password: str,
    department_id: str | None = None,
) -> Account:
    """A local account (``values``: username, name, phone, email), checked as sign-up checks
    it, stored in the transaction that audits it."""
    account = await services.accounts.new_local(password=password, **values)
    async with change(services, actor, "admin.account.created", account.id) as c:
        await target_department(c.session, reach, department_id, "department_id")
        account = replace(account, department_id=department_id)
        c.after = await account_store.insert_account(c.session, account)
    await services.accounts.announce(account)
    return account


async def end_sessions(services: Services, account_id: str, ender: SessionEnder) -> int:
    sessions = await services.sessions.of_account(account_id)
    for session in sessions:
        await ender(session.sid)
    return len(sessions)


async def update_account(
    services: Services,
    actor: Actor,
    reach: Reach,
    account_id: str,
    values: dict[str, Any],
    pre: Precondition = NONE,
    ender: SessionEnder | None = None,
) -> Account:
    """Disable or enable, or move to another department (both inside the admin's reach)."""
    async with change(services, actor, "admin.account.updated", account_id) as c:
        before = await account_to_change(c.session, reach, account_id, services.clock.now())
        pre.check(etag_of(before))
        if "department_id" in values:
            await target_department(c.session, reach, values["department_id"], "department_id")
        c.before = before
        c.extra["username"] = before.username  # masked in the log, for the reader
        c.after = await account_store.update_account(
            c.session,
            account_id,
            before.updated_at if pre.given else None,
            values,
            services.clock.now(),
        )
    if c.after.disabled and not before.disabled:
        await end_sessions(services, account_id, ender or quiet_ender(services))
    return c.after


async def unlock(services: Services, actor: Actor, reach: Reach, account_id: str) -> None:
    """Forget the failed sign-ins counted against every name the account signs in with (its
    own and each linked department's), and its wrong authenticator codes."""
    async with services.database.sessions() as session:
        account = await account_to_change(session, reach, account_id, services.clock.now())
    names = await clear_failures(services, account)
    await record_after(services, actor, "admin.account.unlocked", account_id, names=names)


async def reset_otp(
    services: Services,
    actor: Actor,
    reach: Reach,
    account_id: str,
    ender: SessionEnder | None = None,
) -> int:
    """Remove the account's authenticator app (a lost phone). The sessions that proved it end
    too, with their session-bound tokens, since whoever has the phone may hold one of them.
    Returns how many ended."""
    async with change(services, actor, "admin.account.otp_reset", account_id) as c:
        await account_to_change(c.session, reach, account_id, services.clock.now())
        if not await services.otp.remove_in(c.session, account_id):
            raise Missing("The account has no authenticator app.")
    end = ender or quiet_ender(services)
    proven = [s for s in await services.sessions.of_account(account_id) if "otp" in s.amr]
    for session in proven:
        await end(session.sid)
    await record_after(
        services,
        actor,
        "admin.account.sessions_revoked",
        account_id,
        ended=len(proven),
        why="otp_reset",
    )
    return len(proven)


async def links(services: Services, reach: Reach, account_id: str) -> list[LinkedIdentity]:
    async with services.database.sessions() as session:
        await visible_account(session, reach, account_id)
        return await admin_store.links_of(session, account_id)


async def unlink(
    services: Services,
    actor: Actor,
    reach: Reach,
    account_id: str,
    provider_id: str,
    subject: str | None = None,
) -> list[str]:
    """Remove the account's link(s) to a department login system: the next sign-in there
    meets the linking rules again."""
    async with change(services, actor, "admin.account.unlinked", account_id) as c:
        await account_to_change(c.session, reach, account_id, services.clock.now())
        removed = await admin_store.unlink(c.session, account_id, provider_id, subject)
        if not removed:
            raise Missing("No such linked login.")
        c.extra.update(provider_id=provider_id, links=len(removed))
    return removed


async def sessions_of(
    services: Services, reach: Reach, account_id: str
) -> list[tuple[SsoSession, list[str]]]:
    async with services.database.sessions() as session:
        await visible_account(session, reach, account_id)
    found = await services.sessions.of_account(account_id)
    return [(s, await services.sessions.clients_of(s.sid)) for s in found]


async def revoke_sessions(
    services: Services,
    actor: Actor,
    reach: Reach,
    account_id: str,
    ender: SessionEnder | None = None,
) -> int:
    """End every SSO session of the account (with their session-bound tokens)."""
    async with services.database.sessions() as session:
        await account_to_change(session, reach, account_id, services.clock.now())
    ended = await end_sessions(services, account_id, ender or quiet_ender(services))
    await record_after(services, actor, "admin.account.sessions_revoked", account_id, ended=ended)
    return ended


async def devices_of(services: Services, reach: Reach, account_id: str) -> list[AppInstallation]:
    async with services.database.sessions() as session:
        await visible_account(session, reach, account_id)
    return await installations(services, account_id)


async def end_device(
    services: Services, actor: Actor, reach: Reach, account_id: str, device_id: str
) -> None:
    """End one app installation: its refresh tokens (and their access tokens) are revoked."""
    async with services.database.sessions() as session:
        await account_to_change(session, reach, account_id, services.clock.now())
    if not await end_installation(services, account_id, device_id, actor.id, actor.request):
        raise Missing("No such app installation.")
