"""用户: finding accounts (username, name, or a full phone or ID number through the blind
index; shown masked), an account's page, and its actions, each through the admin API's own
service (``gateway/admin/people.py``) with the administrator's reach."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from starlette.responses import RedirectResponse, Response

from gateway.admin import people, roles
from gateway.admin.etags import etag_of
from gateway.console.context import Console, view
from gateway.console.paging import offset_of, pager
from gateway.console.render import locale_of
from gateway.endpoints.end_session import end_sso_session
from gateway.identity.regions import Region
from gateway.pages.render import messages
from gateway.pages.sign_in_place import region_text
from gateway.server.responses import Problem
from policies.identifiers import mask, mask_phone
from store.records import Account

PAGE = 20
COUNT_LIMIT = 10_000  # past it the page says "10000+": counting a million rows is slow
PHONE = re.compile(r"^\+?(86)?1\d{10}$")
NATIONAL_ID = re.compile(r"^\d{17}[\dXx]$")


def when(epoch: float | None) -> str:
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def shown(account: Account) -> dict[str, object]:
    return {
        "id": account.id,
        "username": account.username,
        "name": account.name or "—",
        "phone": mask_phone(account.phone) or "—",
        "email": mask(account.email, 2, 6) if account.email else "—",
        "kind": account.kind,
        "assurance": account.assurance,
        "department_id": account.department_id,
        "disabled": account.disabled,
        "created": when(account.created_at),
    }


async def _search(
    console: Console, q: str, offset: int, department: str | None
) -> tuple[list[Account], int]:
    """A full phone or ID number finds its account; other text finds usernames starting with
    it, or else names starting with it (both through an index)."""
    reach, services = console.reach(), console.services
    compact = q.replace(" ", "")
    for kind, pattern in (("phone", PHONE), ("national_id", NATIONAL_ID)):
        if pattern.fullmatch(compact):
            found = await people.find_by_identifier(services, reach, kind, compact)
            return ([found], 1) if found else ([], 0)
    where: dict[str, object] = {"count_limit": COUNT_LIMIT}
    if department:
        where["department_id"] = department
    if not q:
        return await people.list_accounts(services, reach, offset, PAGE, **where)
    by_username, total = await people.list_accounts(
        services, reach, offset, PAGE, username=q.lower(), **where
    )
    if by_username:
        return by_username, total
    return await people.list_accounts(services, reach, offset, PAGE, name_prefix=q, **where)


@view("list_accounts")
async def accounts(console: Console) -> Response:
    q = console.request.query_params.get("q", "").strip()[:200]
    department = console.request.query_params.get("department", "")[:32] or None
    offset = offset_of(console.request)
    found, total = await _search(console, q, offset, department)
    return console.page(
        "console_accounts.html",
        {
            "q": q,
            "accounts": [shown(a) for a in await console.services.federation.with_phones(found)],
            "total_text": f"{COUNT_LIMIT}+" if total > COUNT_LIMIT else total,
            **pager(offset, total, PAGE, q=q, department=department),
        },
    )


@view("get_account")
async def account(console: Console) -> Response:
    services, reach = console.services, console.reach()
    account_id = console.request.path_params["account_id"]
    found = await people.get_account(services, reach, account_id)
    links = await people.links(services, reach, account_id)
    sessions = await people.sessions_of(services, reach, account_id)
    held, _ = await roles.list_assignments(services, reach, 0, 50, account_id=account_id)
    role_names = {}
    for assignment in held:
        try:
            role_names[assignment.role_id] = (
                await roles.get_role(services, reach, assignment.role_id)
            ).name
        except Problem:  # a role of an app outside the reach: shown by id
            role_names[assignment.role_id] = assignment.role_id
    t = messages(locale_of(console.request))
    return console.page(
        "console_account.html",
        {
            "account": shown(await services.federation.with_phone(found)),
            "version": etag_of(found),
            "links": [
                {"provider": link.provider_id, "last": when(link.last_login_at)} for link in links
            ],
            "sessions": [
                {
                    "sid": s.sid,
                    "started": when(s.auth_time),
                    "seen": when(s.last_seen),
                    "amr": ", ".join(s.amr),
                    "ip": s.ip or "—",
                    "region": region_text(Region.from_dict(s.region), t),
                    "apps": ", ".join(apps) or "—",
                }
                for s, apps in sessions
            ],
            "assignments": [
                {
                    "role": role_names[a.role_id],
                    "where": a.department_id or "",
                    "expires": when(a.expires_at) if a.expires_at else "",
                }
                for a in held
            ],
            "otp": await services.otp.enrolled(account_id),
            "passkeys": len(await services.passkeys.of_account(account_id)),
            "recovery_codes": await services.recovery_codes.left(account_id),
            "verified_phone": await services.notices.verified_phone(account_id) is not None,
            "done": console.request.query_params.get("done"),
        },
    )


def ender(console: Console) -> people.SessionEnder:
    """Ends a session as the admin API does: grants revoked, back-channel logout sent."""

    async def end(sid: str) -> None:
        await end_sso_session(console.request, sid, "admin")

    return end


def _back(account_id: str, done: str) -> Response:
    return RedirectResponse(f"/admin/accounts/{account_id}?done={done}", status_code=303)


@view("patch_account")
async def set_status(console: Console) -> Response:
    account_id = console.request.path_params["account_id"]
    disabled = console.form.get("disabled") == "true"
    await people.update_account(
        console.services,
        console.actor,
        console.writer,
        account_id,
        {"disabled": disabled},
        console.precondition(),
        ender(console),
    )
    return _back(account_id, "disabled" if disabled else "enabled")


@view("unlock_account")
async def unlock(console: Console) -> Response:
    account_id = console.request.path_params["account_id"]
    await people.unlock(console.services, console.actor, console.writer, account_id)
    return _back(account_id, "unlocked")


@view("reset_otp")
async def reset_otp(console: Console) -> Response:
    account_id = console.request.path_params["account_id"]
    await people.reset_otp(
        console.services, console.actor, console.writer, account_id, ender(console)
    )
    return _back(account_id, "otp_reset")


@view("revoke_sessions")
async def end_sessions(console: Console) -> Response:
    account_id = console.request.path_params["account_id"]
    await people.revoke_sessions(
        console.services, console.actor, console.writer, account_id, ender(console)
    )
    return _back(account_id, "sessions_ended")
