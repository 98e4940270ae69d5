"""The admin console's own app: a confidential client designated for administration, through
which the console signs its administrators in (authorization code + PKCE against this issuer).

It is made by ``initialize`` (``yihaotong init``, and every start, so existing installations get
it too) and follows the issuer: its redirect URIs are the issuer's ``/admin/`` pages. Its secret
is derived from the master key, so nothing secret is stored beside its digest. Its access policy
asks for a second factor; a city-wide administrator may change that policy like any other."""

from __future__ import annotations

import base64
import logging
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.client_policy import PolicyDocument
from gateway.identity.clients import secret_digest
from keys.master import MasterKey
from policies.clients import registration_problem
from store import audit as audit_store
from store import client_policies
from store import clients as client_store
from store.database import Database
from store.records import AuditEvent, Client

log = logging.getLogger("yihaotong.console")

CONSOLE_CLIENT_ID = "yihaotong-console"
CONSOLE_NAME = "一号通管理控制台"
CONSOLE_SCOPES = ("admin:read", "admin:write")
CALLBACK_PATH = "/admin/callback"
SIGNED_OUT_PATH = "/admin/signed-out"
# The admin policy: administrators sign in to the console with a second factor.
CONSOLE_POLICY = PolicyDocument(mfa=True)


def console_secret(master_key: MasterKey) -> str:
    return base64.urlsafe_b64encode(master_key.derive("console-client")).decode().rstrip("=")


def _wanted(issuer: str, master_key: MasterKey, now: float) -> Client:
    return Client(
        client_id=CONSOLE_CLIENT_ID,
        name=CONSOLE_NAME,
        public=False,
        secret_digest=secret_digest(console_secret(master_key)),
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method's name
        redirect_uris=(issuer + CALLBACK_PATH,),
        post_logout_redirect_uris=(issuer + SIGNED_OUT_PATH,),
        grant_types=("authorization_code", "refresh_token"),
        scopes=CONSOLE_SCOPES,
        admin_console=True,
        created_at=now,
        updated_at=now,
    )


def _problem(client: Client) -> tuple[str, str] | None:
    return registration_problem(
        name=client.name,
        public=False,
        redirect_uris=client.redirect_uris,
        post_logout_redirect_uris=client.post_logout_redirect_uris,
        backchannel_logout_uri=None,
        grant_types=client.grant_types,
        token_endpoint_auth_method=client.token_endpoint_auth_method,
        scopes=client.scopes,
    )


async def _ensure(session: AsyncSession, wanted: Client, now: float) -> str | None:
    current = await client_store.get_client(session, CONSOLE_CLIENT_ID)
    if current is None:
        await client_store.insert_client(session, wanted)
        document = CONSOLE_POLICY.model_dump(mode="json")
        await client_policies.put_policy(session, CONSOLE_CLIENT_ID, document, None, now)
        return "console.client_registered"
    changes = {
        name: getattr(wanted, name)
        for name in ("redirect_uris", "post_logout_redirect_uris", "secret_digest")
        if getattr(current, name) != getattr(wanted, name)
    }
    if not current.admin_console:
        changes["admin_console"] = True
    if not changes:
        return None
    await client_store.update_client(session, CONSOLE_CLIENT_ID, None, changes, now)
    return "console.client_updated"


async def ensure_console_client(
    database: Database, issuer: str, master_key: MasterKey, now: float
) -> None:
    """Register the console's app, or bring its redirect URIs to the current issuer. The
    change is audited in the transaction that makes it."""
    wanted = _wanted(issuer, master_key, now)
    if problem := _problem(wanted):
        log.warning("the admin console is unavailable: %s %s", *problem)
        return
    async with database.transaction() as session:
        event = await _ensure(session, wanted, now)
        if event is not None:
            details = {"redirect_uris": list(wanted.redirect_uris)}
            entry = AuditEvent(event, actor="init", target=CONSOLE_CLIENT_ID, details=details)
            await audit_store.append(session, replace(entry, at=now))
