"""What 一号通 holds about a person and which apps received what (个人信息保护法 Art. 44–45):
gathered once, shown masked on the page, downloaded in full as JSON by its owner."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gateway.identity.claims import SCOPE_CLAIMS
from gateway.identity.pii import PiiVault
from gateway.server.services import Services
from policies.identifiers import mask, mask_phone
from store.identities import IdentityStore
from store.phones import PhoneStore
from store.records import Account

AUDIT_ENTRIES = 500  # security events about the person in the download, each way


@dataclass
class AppGrant:
    client_id: str
    name: str
    scopes: list[str] = field(default_factory=list)  # consented
    claims: list[str] = field(default_factory=list)  # what those scopes release
    refresh_tokens: int = 0  # live families: access that lasts beyond a visit
    used: bool = False  # signed in to it in a live session


def masked_identifier(kind: str, value: str) -> str:
    if kind == "phone":
        return mask_phone(value) or ""
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{mask(local, 1, 0)}@{domain}" if domain else mask(value, 1, 0) or ""
    return mask(value) or ""


async def identifiers(services: Services, account: Account) -> list[dict[str, Any]]:
    vault = PiiVault(services.master_key)
    found = await IdentityStore(services.database).identifiers_of(account.id)
    return [
        {
            "type": item.type,
            "value": vault.open(item.type, item.value),
            "verified": item.verified,
            "added_at": item.created_at,
        }
        for item in found
    ]


async def apps(services: Services, account_id: str) -> list[AppGrant]:
    """Every app that holds a consent, a refresh token or a live session of the person."""
    grants: dict[str, AppGrant] = {}

    async def grant(client_id: str) -> AppGrant:
        if client_id not in grants:
            client = await services.clients.get(client_id)
            grants[client_id] = AppGrant(client_id, client.name if client else client_id)
        return grants[client_id]

    for client_id, scopes in (await services.consents.of_account(account_id)).items():
        item = await grant(client_id)
        item.scopes = sorted(scopes)
        item.claims = [claim for scope in sorted(scopes) for claim in SCOPE_CLAIMS.get(scope, ())]
    for client_id, families in (
        await services.refresh_tokens.grants_of_account(account_id)
    ).items():
        (await grant(client_id)).refresh_tokens = len(families)
    for session in await services.sessions.of_account(account_id):
        for client_id in await services.sessions.clients_of(session.sid):
            (await grant(client_id)).used = True
    return list(grants.values())


async def everything(services: Services, account: Account) -> dict[str, Any]:
    """The download: every record about the person, unmasked (it is theirs)."""
    vault = PiiVault(services.master_key)
    links = []
    for link in await services.federation.links_of(account.id):
        links.append(
            {
                "login_system": link.provider_id,
                "subject": link.subject,
                "first_sign_in": link.first_login_at,
                "last_sign_in": link.last_login_at,
                "last_asserted": json.loads(vault.open_json(link.last_attributes)),
            }
        )
    sessions = [
        {
            "started": s.created_at,
            "ip": s.ip,
            "region": s.region,
            "device": s.user_agent,
            "methods": s.amr,
            "level": s.acr,
            "clients": await services.sessions.clients_of(s.sid),
        }
        for s in await services.sessions.of_account(account.id)
    ]
    events = [
        *(await services.audit.query(actor=account.id, limit=AUDIT_ENTRIES)),
        *(await services.audit.query(target=account.id, limit=AUDIT_ENTRIES)),
    ]
    unique = {event.id: event for event in events}.values()
    return {
        "account": {
            "id": account.id,
            "username": account.username,
            "name": account.name,
            "phone": (await services.federation.with_phone(account)).phone,
            "email": account.email,
            "kind": account.kind,
            "level": account.assurance,
            "has_password": account.password_hash is not None,
            "created": account.created_at,
            "updated": account.updated_at,
        },
        "identifiers": await identifiers(services, account),
        "department_logins": links,
        "sessions": sessions,
        "apps": [vars(grant) for grant in await apps(services, account.id)],
        "passkeys": [
            {"name": p.name, "created": p.created_at, "last_used": p.last_used_at}
            for p in await services.passkeys.of_account(account.id)
        ],
        "authenticator_app": await services.otp.enrolled(account.id),
        "agreements": await PhoneStore(services.database).agreements_of(account.id),
        "security_events": [
            {
                "at": e.at,
                "event": e.event,
                "outcome": e.outcome,
                "client_id": e.client_id,
                "ip": e.ip,
                "details": e.details,
            }
            for e in sorted(unique, key=lambda e: e.id or 0)
        ],
    }
