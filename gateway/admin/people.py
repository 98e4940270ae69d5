"""Administering accounts: finding them, disabling (which ends their sessions), moving them to a
department, clearing a lockout, removing a linked department login, ending their sessions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gateway.admin.changes import Actor, change, record_after
from gateway.admin.errors import Missing
from gateway.admin.etags import NONE, Precondition, etag_of
from gateway.admin.org import account_to_change, target_department, visible_account
from gateway.admin.reach import Reach
from gateway.login import _counter_keys
from gateway.revocations import end_session_grants
from gateway.services import Services
from gateway.sessions import SsoSession
from store import accounts as account_store
from store import admin as admin_store
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


async def get_account(services: Services, reach: Reach, account_id: str) -> Account:
    async with services.database.sessions() as session:
        return await visible_account(session, reach, account_id)


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
    """Forget the failed sign-ins counted against the account's username."""
    async with services.database.sessions() as session:
        account = await account_to_change(session, reach, account_id, services.clock.now())
    account_key, _ = _counter_keys(account.username, "")
    await services.expiring.delete(account_key)
    await services.expiring.delete(f"fail-otp:{account_id}")  # wrong authenticator codes too
    await record_after(services, actor, "admin.account.unlocked", account_id)


async def reset_otp(services: Services, actor: Actor, reach: Reach, account_id: str) -> None:
    """Remove the account's authenticator app (a lost phone): an app that needs multi-factor
    sign-in denies the person until they set up a new one."""
    async with change(services, actor, "admin.account.otp_reset", account_id) as c:
        await account_to_change(c.session, reach, account_id, services.clock.now())
        if not await services.otp.remove_in(c.session, account_id):
            raise Missing("The account has no authenticator app.")


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
