"""An administrator's actions on one account beside those of ``people.py``: ending one SSO
session, resetting the password (by SMS to the verified phone, never shown), removing the
passkeys or recovery codes. Each inside the administrator's reach, audited."""

from __future__ import annotations

from gateway.admin.changes import Actor, change, record_after
from gateway.admin.org import account_to_change
from gateway.admin.people import SessionEnder, end_sessions, quiet_ender
from gateway.admin.reach import Reach
from gateway.identity.phones import masked
from gateway.pages.render import DEFAULT_LOCALE, LOCALES, messages
from gateway.server.responses import Clash, Missing
from gateway.server.services import Services
from store import accounts as account_store

PASSKEY_AMR = {"hwk", "swk"}
RECOVERY_PATH = "/account/"  # its sign-in page offers 忘记密码 (the recovery flow)


async def _reachable(services: Services, reach: Reach, account_id: str) -> None:
    async with services.database.sessions() as session:
        await account_to_change(session, reach, account_id, services.clock.now())


async def end_session(
    services: Services,
    actor: Actor,
    reach: Reach,
    account_id: str,
    sid: str,
    ender: SessionEnder | None = None,
) -> None:
    """End one SSO session of the account, as ending all of them does (its session-bound
    tokens revoked, its apps told by back-channel, front-channel, CAS or SAML logout)."""
    await _reachable(services, reach, account_id)
    found = await services.sessions.get(sid)
    if found is None or found.account_id != account_id:
        raise Missing("No such session.")
    await (ender or quiet_ender(services))(sid)
    await record_after(
        services, actor, "admin.account.sessions_revoked", account_id, ended=1, why="one"
    )


async def _end_where(
    services: Services, account_id: str, amr: set[str], ender: SessionEnder | None
) -> int:
    end = ender or quiet_ender(services)
    proven = [s for s in await services.sessions.of_account(account_id) if amr & set(s.amr)]
    for session in proven:
        await end(session.sid)
    return len(proven)


async def reset_password(
    services: Services,
    actor: Actor,
    reach: Reach,
    account_id: str,
    ender: SessionEnder | None = None,
    locale: str = DEFAULT_LOCALE,
) -> tuple[str, bool]:
    """The current password stops working and every session ends; the verified phone is
    told, in ``locale`` (Chinese unless another is chosen), to set a new one through 忘记密码
    (the recovery flow, which sends it a one-time code). 409 and nothing changes when the
    account has no verified phone. Returns the phone (masked) and whether it was accepted."""
    phone = await services.notices.verified_phone(account_id)
    async with change(services, actor, "admin.account.password_reset", account_id) as c:
        before = await account_to_change(c.session, reach, account_id, services.clock.now())
        if phone is None:
            raise Clash("The account has no verified phone to send the reset to.")
        c.extra.update(username=before.username, phone=masked(phone))
        await account_store.update_account(
            c.session, account_id, None, {"password_hash": None}, services.clock.now()
        )
    ended = await end_sessions(services, account_id, ender or quiet_ender(services))
    await record_after(
        services, actor, "admin.account.sessions_revoked", account_id, ended=ended,
        why="password_reset",
    )  # fmt: skip
    url = services.settings.issuer + RECOVERY_PATH
    # The account keeps no language: the administrator chooses (the console offers its own).
    chosen = locale if locale in LOCALES else DEFAULT_LOCALE
    text = messages(chosen).notice_password_reset_by_admin.replace("{url}", url)
    sent = await services.notices.send(
        account_id, "password_reset_by_admin", text, actor.request, phone
    )
    return masked(phone), sent


async def reset_passkeys(
    services: Services,
    actor: Actor,
    reach: Reach,
    account_id: str,
    ender: SessionEnder | None = None,
) -> int:
    """Remove every passkey of the account (a lost device); the sessions signed in with one
    end too. 404 when it has none. Returns how many were removed."""
    await _reachable(services, reach, account_id)
    found = await services.passkeys.of_account(account_id)
    if not found:
        raise Missing("The account has no passkey.")
    removed = 0
    for passkey in found:
        removed += await services.passkeys.remove(account_id, passkey.credential_id)
    ended = await _end_where(services, account_id, PASSKEY_AMR, ender)
    await record_after(
        services, actor, "admin.account.passkeys_reset", account_id, removed=removed, ended=ended
    )
    return removed


async def reset_recovery_codes(
    services: Services, actor: Actor, reach: Reach, account_id: str
) -> None:
    """Remove the account's recovery codes (a printed sheet lost); 404 when it has none."""
    await _reachable(services, reach, account_id)
    if not await services.recovery_codes.left(account_id):
        raise Missing("The account has no recovery codes.")
    await services.recovery_codes.remove(account_id)
    await record_after(services, actor, "admin.account.recovery_codes_reset", account_id)
