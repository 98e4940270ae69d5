"""Admin API: accounts, their linked department logins and their SSO sessions."""

from __future__ import annotations

from gateway.admin import account_ops, people
from gateway.admin.auth import READ, WRITE
from gateway.admin.etags import etag_of
from gateway.admin.http import Call, Reply, endpoint
from gateway.admin.models import (
    AccountOut,
    AccountPage,
    AccountPatch,
    AccountQuery,
    AppDeviceList,
    AppDeviceOut,
    Count,
    LinkList,
    LinkOut,
    SessionList,
    SessionOut,
    UnlinkQuery,
    when,
)
from gateway.admin.models_ops import PasswordResetOut, PasswordResetQuery
from gateway.endpoints.end_session import end_sso_session
from store.records import Account

TAG = "accounts"


def account_out(account: Account) -> AccountOut:
    return AccountOut(
        id=account.id,
        username=account.username,
        name=account.name,
        phone=account.phone,
        email=account.email,
        disabled=account.disabled,
        kind=account.kind,
        assurance=account.assurance,
        department_id=account.department_id,
        created_at=when(account.created_at),  # type: ignore[arg-type]
        updated_at=when(account.updated_at),  # type: ignore[arg-type]
    )


def _ender(call: Call) -> people.SessionEnder:
    """Ends a session as logout does: grants revoked, back-channel logout sent."""

    async def end(sid: str) -> None:
        await end_sso_session(call.request, sid, "admin")

    return end


@endpoint(
    "GET",
    "/accounts",
    scope=READ,
    tag=TAG,
    summary="List accounts",
    out=AccountPage,
    query=AccountQuery,
)
async def list_accounts(call: Call) -> Reply:
    """Accounts of the departments inside your subtrees (city-wide: every account)."""
    q: AccountQuery = call.query
    filters = q.model_dump(exclude={"offset", "limit"}, exclude_none=True)
    items, total = await people.list_accounts(
        call.services, call.reach, q.offset, q.limit, **filters
    )
    items = await call.services.federation.with_phones(items)
    page = AccountPage(
        items=[account_out(a) for a in items], total=total, offset=q.offset, limit=q.limit
    )
    return Reply(page)


@endpoint(
    "GET",
    "/accounts/{account_id}",
    scope=READ,
    tag=TAG,
    summary="Get an account",
    out=AccountOut,
    etag=True,
)
async def get_account(call: Call) -> Reply:
    account = await people.get_account(call.services, call.reach, call.params["account_id"])
    shown = await call.services.federation.with_phone(account)
    return Reply(account_out(shown), etag=etag_of(account))


@endpoint(
    "PATCH",
    "/accounts/{account_id}",
    scope=WRITE,
    tag=TAG,
    summary="Disable, enable or move an account",
    out=AccountOut,
    body=AccountPatch,
    etag=True,
    if_match=True,
)
async def patch_account(call: Call) -> Reply:
    """Disabling ends every SSO session of the account (with back-channel logout)."""
    values = {name: getattr(call.body, name) for name in call.fields}
    if values.get("disabled", False) is None:
        values.pop("disabled")
    account = await people.update_account(
        call.services,
        call.actor,
        call.reach,
        call.params["account_id"],
        values,
        call.pre,
        _ender(call),
    )
    shown = await call.services.federation.with_phone(account)
    return Reply(account_out(shown), etag=etag_of(account))


@endpoint(
    "POST",
    "/accounts/{account_id}/unlock",
    scope=WRITE,
    tag=TAG,
    summary="Clear the account's sign-in lockout",
    status=204,
)
async def unlock_account(call: Call) -> Reply:
    await people.unlock(call.services, call.actor, call.reach, call.params["account_id"])
    return Reply(status=204)


@endpoint(
    "GET",
    "/accounts/{account_id}/links",
    scope=READ,
    tag=TAG,
    summary="List the account's linked department logins",
    out=LinkList,
)
async def list_links(call: Call) -> Reply:
    links = await people.links(call.services, call.reach, call.params["account_id"])
    items = [
        LinkOut(
            provider_id=link.provider_id,
            subject=link.subject,
            first_login_at=when(link.first_login_at),  # type: ignore[arg-type]
            last_login_at=when(link.last_login_at),  # type: ignore[arg-type]
        )
        for link in links
    ]
    return Reply(LinkList(items=items))


@endpoint(
    "DELETE",
    "/accounts/{account_id}/otp",
    scope=WRITE,
    tag=TAG,
    summary="Remove the account's authenticator app (reset its second factor)",
    status=204,
)
async def reset_otp(call: Call) -> Reply:
    """The sessions signed in with the app's codes end too, with back-channel logout."""
    await people.reset_otp(
        call.services, call.actor, call.reach, call.params["account_id"], _ender(call)
    )
    return Reply(status=204)


@endpoint(
    "DELETE",
    "/accounts/{account_id}/links/{provider_id}",
    scope=WRITE,
    tag=TAG,
    summary="Unlink a department login",
    status=204,
    query=UnlinkQuery,
)
async def unlink(call: Call) -> Reply:
    """The next sign-in through that department meets the linking rules again."""
    await people.unlink(
        call.services,
        call.actor,
        call.reach,
        call.params["account_id"],
        call.params["provider_id"],
        call.query.subject,
    )
    return Reply(status=204)


@endpoint(
    "GET",
    "/accounts/{account_id}/sessions",
    scope=READ,
    tag=TAG,
    summary="List the account's SSO sessions",
    out=SessionList,
)
async def list_sessions(call: Call) -> Reply:
    found = await people.sessions_of(call.services, call.reach, call.params["account_id"])
    items = [
        SessionOut(
            sid=s.sid,
            created_at=when(s.created_at),  # type: ignore[arg-type]
            auth_time=when(s.auth_time),  # type: ignore[arg-type]
            last_seen=when(s.last_seen),  # type: ignore[arg-type]
            acr=s.acr,
            amr=list(s.amr),
            idp=s.idp,
            ip=s.ip,
            region={"kind": "unknown", **s.region},
            user_agent=s.user_agent,
            clients=clients,
        )
        for s, clients in found
    ]
    return Reply(SessionList(items=items))


@endpoint(
    "DELETE",
    "/accounts/{account_id}/sessions",
    scope=WRITE,
    tag=TAG,
    summary="End every SSO session of the account",
    out=Count,
)
async def revoke_sessions(call: Call) -> Reply:
    """Ends them as logout does: session-bound tokens revoked, back-channel logout sent."""
    ended = await people.revoke_sessions(
        call.services, call.actor, call.reach, call.params["account_id"], _ender(call)
    )
    return Reply(Count(count=ended))


@endpoint(
    "DELETE",
    "/accounts/{account_id}/sessions/{session_id}",
    scope=WRITE,
    tag=TAG,
    summary="End one SSO session of the account",
    status=204,
)
async def end_session(call: Call) -> Reply:
    """As ending every session does for each: session-bound tokens revoked, the apps told by
    back-channel, front-channel, CAS or SAML logout. 404 for a session not the account's."""
    await account_ops.end_session(
        call.services,
        call.actor,
        call.reach,
        call.params["account_id"],
        call.params["session_id"],
        _ender(call),
    )
    return Reply(status=204)


@endpoint(
    "POST",
    "/accounts/{account_id}/password/reset",
    scope=WRITE,
    tag=TAG,
    summary="Reset the account's password (by SMS to its verified phone)",
    out=PasswordResetOut,
    query=PasswordResetQuery,
)
async def reset_password(call: Call) -> Reply:
    """No password is shown or chosen: the current one stops working, every session ends,
    and the verified phone is told to set a new one through the sign-in page's recovery
    (which sends it a one-time code). 409 and nothing changes without a verified phone."""
    phone, sent = await account_ops.reset_password(
        call.services,
        call.actor,
        call.reach,
        call.params["account_id"],
        _ender(call),
        locale=call.query.locale,
    )
    return Reply(PasswordResetOut(sent_to=phone, notified=sent))


@endpoint(
    "DELETE",
    "/accounts/{account_id}/passkeys",
    scope=WRITE,
    tag=TAG,
    summary="Remove every passkey of the account",
    out=Count,
)
async def reset_passkeys(call: Call) -> Reply:
    """The sessions signed in with a passkey end too, with back-channel logout."""
    removed = await account_ops.reset_passkeys(
        call.services, call.actor, call.reach, call.params["account_id"], _ender(call)
    )
    return Reply(Count(count=removed))


@endpoint(
    "DELETE",
    "/accounts/{account_id}/recovery-codes",
    scope=WRITE,
    tag=TAG,
    summary="Remove the account's recovery codes",
    status=204,
)
async def reset_recovery_codes(call: Call) -> Reply:
    await account_ops.reset_recovery_codes(
        call.services, call.actor, call.reach, call.params["account_id"]
    )
    return Reply(status=204)


@endpoint(
    "GET",
    "/accounts/{account_id}/devices",
    scope=READ,
    tag=TAG,
    summary="List the account's app installations",
    out=AppDeviceList,
)
async def list_devices(call: Call) -> Reply:
    """Installations of the city's own apps (`MOBILE_APP_CLIENTS`), most recently used first."""
    found = await people.devices_of(call.services, call.reach, call.params["account_id"])
    items = [
        AppDeviceOut(
            device_id=i.device_id,
            client_id=i.client_id,
            device_name=i.device_name,
            first_used_at=when(i.first_used),  # type: ignore[arg-type]
            last_used_at=when(i.last_used),  # type: ignore[arg-type]
            dpop_jkt=i.dpop_jkt,
        )
        for i in found
    ]
    return Reply(AppDeviceList(items=items))


@endpoint(
    "DELETE",
    "/accounts/{account_id}/devices/{device_id}",
    scope=WRITE,
    tag=TAG,
    summary="End one app installation",
    status=204,
)
async def end_device(call: Call) -> Reply:
    """Its refresh tokens and the access tokens issued with them are revoked."""
    await people.end_device(
        call.services, call.actor, call.reach, call.params["account_id"], call.params["device_id"]
    )
    return Reply(status=204)
