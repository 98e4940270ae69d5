"""Before Authlib runs a token grant: take the code or load the refresh token, and catch reuse
(which revokes what the credential produced) while I/O is still allowed."""

from __future__ import annotations

import json

from starlette.responses import Response

from gateway.oauth import CODE_USED_TTL, CodeRecord, GrantContext, digest
from gateway.responses import oauth_error
from gateway.revocations import revoke_access_token, revoke_family
from gateway.services import Services


async def prefetch_grant(
    services: Services, form: dict[str, str], context: GrantContext
) -> Response | None:
    """Fill ``context`` for the grant in ``form``; a response when the request is refused
    already (a reused code or refresh token)."""
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code" and "code" in form:
        return await _code(services, form["code"], context)
    if grant_type == "refresh_token" and "refresh_token" in form:
        return await _refresh(services, form["refresh_token"], context)
    return None


async def _code(services: Services, code: str, context: GrantContext) -> Response | None:
    code_digest = digest(code)
    raw = await services.expiring.take(f"code:{code_digest}")
    if raw is None:
        used = await services.expiring.get(f"code-used:{code_digest}")
        if used is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what it was exchanged for.
            issued = json.loads(used)
            if issued.get("family_id"):
                await revoke_family(services, issued["family_id"], "code reuse")
            if issued.get("access_jti"):
                await revoke_access_token(services, issued["access_jti"])
        return oauth_error("invalid_grant", "The code is invalid, expired or used.")
    record = CodeRecord.from_bytes(raw)
    context.code, context.code_digest = record, code_digest
    context.account = await services.accounts.get(record.account_id)

    async def remember_use() -> None:
        # Read at write time: the grant has set what it issued by then.
        marker = {"family_id": context.family_id, "access_jti": context.access_jti}
        await services.expiring.put(
            f"code-used:{code_digest}", json.dumps(marker).encode(), CODE_USED_TTL
        )

    context.writes.append(remember_use)
    return None


async def _refresh(services: Services, token: str, context: GrantContext) -> Response | None:
    record = await services.refresh_tokens.get(digest(token))
    now = services.clock.now()
    if record is None or record.revoked_at is not None or record.expires_at <= now:
        return oauth_error("invalid_grant", "The refresh token is invalid, expired or revoked.")
    if record.used_at is not None:
        # RFC 9700 §4.14.2: a rotated token came back, so one of its holders is not its owner.
        await revoke_family(services, record.family_id, "refresh token reuse")
        return oauth_error("invalid_grant", "The refresh token is invalid, expired or revoked.")
    if not record.offline and record.sid:
        # Without offline_access a refresh token lives only as long as its SSO session;
        # using it counts as activity in that session (as a page visit would).
        session = await services.sessions.get(record.sid)
        if session is None:
            await revoke_family(services, record.family_id, "session ended")
            return oauth_error("invalid_grant", "The sign-in session of this token has ended.")
        await services.sessions.touch(session)
    context.refresh = record
    context.account = await services.accounts.get(record.account_id)
    return None
