"""An account's page's further actions: end one session, reset the password (by SMS to the
verified phone, in the language the administrator picks), remove the passkeys or the
recovery codes, through the admin API's own service (``gateway/admin/account_ops.py``) with
the administrator's reach."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from gateway.admin import account_ops
from gateway.console.context import Console, view
from gateway.console.people_pages import ender
from gateway.console.render import locale_of


def _back(account_id: str, done: str) -> Response:
    return RedirectResponse(f"/admin/accounts/{account_id}?done={done}", status_code=303)


@view("end_session")
async def end_session(console: Console) -> Response:
    params = console.request.path_params
    await account_ops.end_session(
        console.services,
        console.actor,
        console.writer,
        params["account_id"],
        params["session_id"],
        ender(console),
    )
    return _back(params["account_id"], "session_ended")


@view("reset_password")
async def reset_password(console: Console) -> Response:
    account_id = console.request.path_params["account_id"]
    _, sent = await account_ops.reset_password(
        console.services,
        console.actor,
        console.writer,
        account_id,
        ender(console),
        locale=console.form.get("locale") or locale_of(console.request),
    )
    return _back(account_id, "password_reset" if sent else "password_reset_unsent")


@view("reset_passkeys")
async def reset_passkeys(console: Console) -> Response:
    account_id = console.request.path_params["account_id"]
    await account_ops.reset_passkeys(
        console.services, console.actor, console.writer, account_id, ender(console)
    )
    return _back(account_id, "passkeys_reset")


@view("reset_recovery_codes")
async def reset_recovery_codes(console: Console) -> Response:
    account_id = console.request.path_params["account_id"]
    await account_ops.reset_recovery_codes(
        console.services, console.actor, console.writer, account_id
    )
    return _back(account_id, "recovery_codes_reset")
