"""Before Authlib runs a token grant: take the code or load the refresh token, and catch reuse
(which revokes what the credential produced) while I/O is still allowed."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from authlib.oauth2.rfc6749 import InvalidGrantError
from starlette.responses import Response

from gateway.identity import expiry_sweep
from gateway.identity.access import app_claims
from gateway.identity.claims import wants_phone
from gateway.identity.metrics import login_system_call
from gateway.identity.sessions import SsoSession
from gateway.oauth.access_tokens import active_access_token, is_access_token_shaped
from gateway.oauth.models import CODE_USED_TTL, CodeClaim, CodeRecord, GrantContext, digest
from gateway.oauth.revocations import revoke_access_token, revoke_family
from gateway.oauth.token_exchange import TOKEN_EXCHANGE
from gateway.server.responses import oauth_error
from gateway.server.services import Services
from providers.base import Identity, ProviderUnavailable, RefreshProvider
from store import kv_keys
from store.records import RefreshToken

log = logging.getLogger("yihaotong")


async def prefetch_grant(
    services: Services, form: dict[str, str], client_id: str | None, context: GrantContext
) -> Response | None:
    """Fill ``context`` for the grant in ``form`` of the authenticated ``client_id``; a
    response when the request is refused already (a reused code or refresh token)."""
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code" and "code" in form:
        return await _code(services, form["code"], client_id, context)
    if grant_type == "refresh_token" and "refresh_token" in form:
        return await _refresh(services, form["refresh_token"], context)
    if grant_type == TOKEN_EXCHANGE and client_id and "subject_token" in form:
        subject = form["subject_token"]
        if is_access_token_shaped(subject):
            context.subject_claims = await active_access_token(services, subject)
    return None


async def _revoke_issued(services: Services, marker: bytes | None) -> bool:
    """Revoke what a redeemed code produced; False when it has produced nothing yet."""
    issued = orjson.loads(marker) if marker else {}
    if issued.get("family_id"):
        await revoke_family(services, issued["family_id"], "code reuse")
    if issued.get("access_jti"):
        await revoke_access_token(services, issued["access_jti"])
    return bool(issued.get("access_jti"))


async def _code(
    services: Services, code: str, client_id: str | None, context: GrantContext
) -> Response | None:
    """RFC 6749 §4.1.2: a code used twice, even concurrently, is refused and what it produced
    revoked (or withheld). Only its own client can spend it; another client's attempt leaves it
    as it was. One atomic step takes the code, one records what it produced."""
    code_digest = digest(code)
    code_key = kv_keys.authorization_code(code_digest)
    found = await services.expiring.redeem(
        code_key, client_id or "", CODE_USED_TTL, expiry_sweep.CODE
    )
    if found.outcome == "reused":
        # What the first use produced, if it has finished; if not, it learns of this use when
        # it settles, and withholds and revokes its tokens itself.
        await _revoke_issued(services, found.value)
    if found.outcome != "redeemed" or found.value is None:
        return oauth_error("invalid_grant", "The code is invalid, expired or used.")
    if found.ttl is not None:
        deadline = services.clock.now() + found.ttl
        context.code_claim = CodeClaim(code_key, client_id or "", found.value, deadline)
    record = CodeRecord.from_bytes(found.value)
    if record.dpop_jkt and record.dpop_jkt != context.dpop_jkt:
        # RFC 9449 §10: the code was bound to a key at the authorization endpoint.
        return oauth_error("invalid_grant", "The code is bound to another DPoP key.")
    context.code, context.code_digest = record, code_digest
    context.account = await services.accounts.current(record.account_id)
    if context.account is None or context.account.disabled:
        return oauth_error("invalid_grant", "The account of this code is not available.")
    context.phone = await verified_phone(services, record.account_id, record.scope, record.claims)

    async def remember_use() -> None:
        # Runs after the tokens are stored, so a revocation triggered from here finds them.
        marker = orjson.dumps({"family_id": context.family_id, "access_jti": context.access_jti})
        if await services.expiring.settle(code_key, marker, CODE_USED_TTL):
            await _revoke_issued(services, marker)
            raise InvalidGrantError("The code was used twice.")

    context.finally_writes.append(remember_use)
    return None


async def release_code(services: Services, context: GrantContext) -> None:
    """Put back the code of an exchange that failed before it issued anything (the database
    or the expiring store went away mid-way), so that the client's retry can succeed. A code
    whose tokens were stored, or that was settled or used again meanwhile, stays spent."""
    claim = context.code_claim
    if claim is None or context.issued:
        return
    left = claim.deadline - services.clock.now()
    if left <= 0:
        return
    try:
        released = await services.expiring.release(
            claim.key, claim.owner, claim.value, left, expiry_sweep.CODE
        )
    except Exception:  # the store is away too: the code stays spent, the client starts over
        log.warning("a code could not be put back after a failed exchange", exc_info=True)
        return
    if released:
        log.info("a code was put back after a failed exchange")


async def _upstream_still_enabled(services: Services, session: SsoSession) -> bool:
    """Ask the department the session signed in through, when it can say (RefreshProvider).
    A login system that cannot be reached is no reason to sign anyone out."""
    if session.idp == "local" or not session.idp_subject:
        return True
    login_system = await services.login_systems.get(session.idp)
    if login_system is None or not isinstance(login_system.provider, RefreshProvider):
        return True
    try:
        with login_system_call(session.idp):
            return await login_system.provider.refresh(
                Identity(provider_id=session.idp, subject=session.idp_subject)
            )
    except ProviderUnavailable:
        return True


async def _refresh(services: Services, token: str, context: GrantContext) -> Response | None:
    record = await services.refresh_tokens.get(digest(token))
    now = services.clock.now()
    if record is None or record.revoked_at is not None or record.expires_at <= now:
        return oauth_error("invalid_grant", "The refresh token is invalid, expired or revoked.")
    if record.dpop_jkt and record.dpop_jkt != context.dpop_jkt:
        # RFC 9449 §5: a public client's refresh token works only with the key it is bound to.
        return oauth_error("invalid_grant", "The refresh token is bound to another DPoP key.")
    if record.used_at is not None:
        # RFC 9700 §4.14.2: a rotated token came back, so one of its holders is not its owner.
        await revoke_family(services, record.family_id, "refresh token reuse")
        return oauth_error("invalid_grant", "The refresh token is invalid, expired or revoked.")
    session = await services.sessions.get(record.sid) if record.sid and not record.offline else None
    if not record.offline and record.sid and session is None:
        # Without offline_access a refresh token lives only as long as its SSO session (and
        # an app refreshing is no sign of the person at the browser: it renews nothing).
        await revoke_family(services, record.family_id, "session ended")
        return oauth_error("invalid_grant", "The sign-in session of this token has ended.")
    if session is not None and not await _upstream_still_enabled(services, session):
        await revoke_family(services, record.family_id, "upstream account disabled")
        context.ended_sid = session.sid  # ended by the endpoint, which can reach every app
        return oauth_error("invalid_grant", "The account is no longer enabled at its login_system.")
    context.refresh = record
    context.account = await services.accounts.current(record.account_id)
    if context.account is None or context.account.disabled:
        return oauth_error("invalid_grant", "The account of this token is not available.")
    context.phone = await verified_phone(services, record.account_id, record.scope)
    return await _still_admitted(services, record, context)


async def verified_phone(
    services: Services, account_id: str, scope: str, requested: dict[str, Any] | None = None
) -> str | None:
    """The account's verified phone when the grant's scope or claims request reaches it (one
    database read then, none otherwise)."""
    if not wants_phone(scope or "", requested):
        return None
    return await services.phone_accounts.verified_of(account_id)


async def _still_admitted(
    services: Services, record: RefreshToken, context: GrantContext
) -> Response | None:
    """A refresh asks the client's access policy again and re-reads roles and delegations, so
    a withdrawn role or delegation takes effect here at the latest."""
    account = context.account
    client = context.clients.get(record.client_id) or await services.clients.get(record.client_id)
    if account is None or client is None:
        return oauth_error("invalid_grant", "The refresh token is invalid, expired or revoked.")
    verdict = await services.access.decide(account, client.client_id, record.acr, list(record.amr))
    withdrawn = None
    if verdict.decision.outcome != "allow":
        withdrawn = f"access withdrawn ({verdict.decision.check})"
    elif record.act_for and not (
        verdict.document.act_for
        and await services.delegations.may_act_for(account.id, record.act_for)
    ):
        withdrawn = "delegation ended"
    if withdrawn is not None:
        await revoke_family(services, record.family_id, withdrawn)
        return oauth_error("invalid_grant", "Access to this application has been withdrawn.")
    context.org_claims = await app_claims(
        services, account, client, verdict.org, verdict.document, record.act_for
    )
    return None
