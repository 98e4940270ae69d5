"""Administering apps (OAuth clients) and their access policies (shared by the REST API and the
command line). An app belongs to the department that owns it; that department's administrators
manage it, its roles and its policy."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.changes import Actor, Change, change
from gateway.admin.etags import NONE, Precondition, etag_of
from gateway.admin.org import path_of, target_department
from gateway.admin.policy_names import check_names
from gateway.admin.reach import Reach
from gateway.admin.sectors import sector_decision
from gateway.identity.access import PRIVILEGED_SCOPES, city_wide_app
from gateway.identity.client_policy import DEFAULT_POLICY, PolicyDocument
from gateway.identity.clients import secret_digest
from gateway.saml.sp_metadata import entity_id, sp_metadata_problem
from gateway.server.responses import Clash, Forbidden, Invalid, Missing, Stale
from gateway.server.services import Services
from policies.cas_services import entries_overlap
from policies.clients import own_sector_problem, registration_problem
from store import client_policies, organisation
from store import clients as client_store
from store.records import Client, ClientPolicy

DEFAULT_GRANTS = ("authorization_code", "refresh_token")
# Apps whose tokens reach beyond their department (privileged scopes, the admin API, every
# app's tokens by introspection) are made, changed and removed by city-wide administrators only.
CITY_WIDE_APPS = (
    "apps with privileged scopes ("
    + ", ".join(sorted(PRIVILEGED_SCOPES))
    + "), apps designated for administration, resource servers and CAS apps that proxy"
)


def _problem(client: Client) -> None:
    method = client.token_endpoint_auth_method
    problem = registration_problem(
        name=client.name,
        public=client.public,
        redirect_uris=client.redirect_uris,
        post_logout_redirect_uris=client.post_logout_redirect_uris,
        backchannel_logout_uri=client.backchannel_logout_uri,
        grant_types=client.grant_types,
        token_endpoint_auth_method=None if method == "none" else method,
        scopes=client.scopes,
        frontchannel_logout_uri=client.frontchannel_logout_uri,
        subject_type=client.subject_type,
        sector_identifier=client.sector_identifier,
        access_token_format=client.access_token_format,
        resource_server=client.resource_server,
        protocol=client.protocol,
        service_urls=client.service_urls,
        cas_options=client.cas_proxy or client.cas_v1,
        sp_metadata=client.sp_metadata,
    ) or (sp_metadata_problem(client.sp_metadata) if client.protocol == "saml" else None)
    if problem:
        field = {
            "name": "client_name",
            "grant_type": "grant_types",
            "redirect_uri": "redirect_uris",
            "post_logout_redirect_uri": "post_logout_redirect_uris",
            "scope": "scopes",
        }.get(problem[0], problem[0])
        raise Invalid.field(["body", field], problem[1])


# Changing one of these may move an app's pairwise sector (and so its subjects).
_SECTOR_FIELDS = ("sector_identifier", "redirect_uris", "subject_type", "service_urls")


PUBLIC_SUBJECTS = (
    "public subject identifiers (the same `sub` in every app, so departments could join a "
    "person's records)"
)


def _subject_decision(
    reach: Reach, before: Client | None, after: Client, reason: str | None, change: Change
) -> None:
    """Public subjects are a city-wide decision with a reason, kept in the change's audit
    entry; every other app gets pairwise ones (OIDC Core §8.1)."""
    if after.subject_type != "public":
        if reason is not None:
            raise Invalid.field(
                ["body", "subject_type_reason"], "a reason is given only with subject_type public"
            )
        return
    if before is not None and before.subject_type == "public":
        return
    reach.require_city_wide(PUBLIC_SUBJECTS)
    if not (reason or "").strip():
        raise Invalid.field(
            ["body", "subject_type_reason"],
            "say why this app needs the public subject identifier (kept in the audit log)",
        )
    change.extra["subject_type_reason"] = reason.strip()


def _own_sector(reach: Reach, client: Client) -> None:
    """A sector that is not the app's own redirect host is a city-wide decision."""
    if reach.city_wide or client.subject_type != "pairwise":
        return
    uris = client.redirect_uris or tuple(u.rstrip("*") for u in client.service_urls)
    if problem := own_sector_problem(client.sector_identifier, uris):
        raise Invalid.field(["body", "sector_identifier"], problem, denied=True)


async def _own_services(session: AsyncSession, client: Client) -> None:
    """The CAS server finds an app by its service URLs: one that another app already answers
    for would hand that app's service to this app's policy, so it is refused, whoever asks
    (and without saying which app holds it)."""
    if client.protocol != "cas":
        return
    others = [
        c for c in await client_store.lock_cas_services(session) if c.client_id != client.client_id
    ]
    for entry in client.service_urls:
        if any(entries_overlap(entry, taken) for other in others for taken in other.service_urls):
            message = f"{entry} overlaps a service URL already registered by another app"
            errors = [
                {"loc": ["body", "service_urls"], "field": "body.service_urls", "message": message}
            ]
            raise Clash(f"body.service_urls: {message}", errors=errors)


async def visible_client(
    session: AsyncSession, reach: Reach, client_id: str, *, changing: bool = False
) -> Client:
    """The client inside the reach; ``changing`` it needs a city-wide administrator when the
    app reaches beyond its department."""
    client = await client_store.get_client(session, client_id)
    if client is None:
        raise Missing("No such client.")
    reach.require(await path_of(session, client.department_id), "client")
    if changing and city_wide_app(client):
        reach.require_city_wide(CITY_WIDE_APPS)
    return client


# Client fields in the API -> record fields.
_FIELDS = {
    "client_name": "name",
    "redirect_uris": "redirect_uris",
    "post_logout_redirect_uris": "post_logout_redirect_uris",
    "backchannel_logout_uri": "backchannel_logout_uri",
    "frontchannel_logout_uri": "frontchannel_logout_uri",
    "subject_type": "subject_type",
    "sector_identifier": "sector_identifier",
    "grant_types": "grant_types",
    "scopes": "scopes",
    "require_consent": "require_consent",
    "token_endpoint_auth_method": "token_endpoint_auth_method",
    "department_id": "department_id",
    "access_token_format": "access_token_format",
    "resource_server": "resource_server",
    "admin_console": "admin_console",
    "protocol": "protocol",
    "service_urls": "service_urls",
    "cas_proxy": "cas_proxy",
    "cas_v1": "cas_v1",
    "dpop_bound_access_tokens": "dpop_bound_access_tokens",
    "require_pushed_authorization_requests": "require_pushed_authorization_requests",
    "sp_metadata": "sp_metadata",
    "requests_per_minute": "requests_per_minute",
    "state": "state",
}


def _record_values(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in values.items():
        field = _FIELDS[name]
        if isinstance(value, list):
            value = tuple(dict.fromkeys(value))
        if field == "name":
            value = value.strip()
        out[field] = value
    return out


async def list_clients(
    services: Services,
    reach: Reach,
    offset: int,
    limit: int,
    department_id: str | None = None,
    name: str | None = None,
) -> tuple[list[Client], int]:
    async with services.database.sessions() as session:
        return await client_store.list_clients(
            session, reach.limit, offset, limit, department_id, name
        )


async def get_client(services: Services, reach: Reach, client_id: str) -> Client:
    async with services.database.sessions() as session:
        return await visible_client(session, reach, client_id)


async def _one_app_per_entity(services: Services, client: Client) -> None:
    """A SAML service provider is one app: a second registration of its entity ID (by another
    department, say) would answer its requests under that app's access policy."""
    sp = entity_id(client.sp_metadata) if client.protocol == "saml" else None
    if sp is None:
        return
    for other in await services.clients.list():
        same = other.protocol == "saml" and entity_id(other.sp_metadata) == sp
        if same and other.client_id != client.client_id:
            raise Invalid.field(
                ["body", "sp_metadata"],
                "this service provider's entity ID is already registered by another app",
            )


async def create_client(
    services: Services, actor: Actor, reach: Reach, values: dict[str, Any]
) -> tuple[Client, str | None]:
    """Register an app; returns it with its secret (shown once, stored as a digest)."""
    public = bool(values.pop("public", False))
    # A CAS or SAML app has no secret (neither protocol has client authentication) and no
    # OAuth grants.
    cas = values.get("protocol") in ("cas", "saml")
    public = public or cas
    reason = values.pop("subject_type_reason", None)
    sector_reason = values.pop("sector_reason", None)
    now = services.clock.now()
    client = Client(
        client_id=str(uuid.uuid4()),
        name="",
        public=public,
        grant_types=() if cas else DEFAULT_GRANTS,
        created_at=now,
        updated_at=now,
    )
    client = replace(client, **_record_values(values))
    if city_wide_app(client):
        reach.require_city_wide(CITY_WIDE_APPS)
    method = "none" if public else client.token_endpoint_auth_method
    client = replace(client, token_endpoint_auth_method=method)
    _problem(client)
    _own_sector(reach, client)
    await _one_app_per_entity(services, client)
    secret = None if public else secrets.token_urlsafe(32)
    client = replace(client, secret_digest=secret and secret_digest(secret))
    async with change(services, actor, "admin.client.created", client.client_id) as c:
        _subject_decision(reach, None, client, reason, c)
        await target_department(c.session, reach, client.department_id, "department_id")
        await _own_services(c.session, client)
        await sector_decision(reach, None, client, sector_reason, c)
        c.after = await client_store.insert_client(c.session, client)
    services.clients.forget(client.client_id)
    return client, secret


async def update_client(
    services: Services,
    actor: Actor,
    reach: Reach,
    client_id: str,
    values: dict[str, Any],
    pre: Precondition = NONE,
    event: str = "admin.client.updated",
) -> Client:
    values = dict(values)
    reason = values.pop("subject_type_reason", None)
    sector_reason = values.pop("sector_reason", None)
    async with change(services, actor, event, client_id) as c:
        before = await visible_client(c.session, reach, client_id, changing=True)
        pre.check(etag_of(before))
        changes = _record_values(values)
        _subject_decision(reach, before, replace(before, **changes), reason, c)
        if city_wide_app(replace(before, **changes)):
            reach.require_city_wide(CITY_WIDE_APPS)
        if "department_id" in changes:
            await target_department(c.session, reach, changes["department_id"], "department_id")
        _problem(replace(before, **changes))
        if "sp_metadata" in changes:
            await _one_app_per_entity(services, replace(before, **changes))
        if any(field in changes for field in _SECTOR_FIELDS):
            _own_sector(reach, replace(before, **changes))
        if {"service_urls", "protocol"} & set(changes):
            await _own_services(c.session, replace(before, **changes))
        await sector_decision(reach, before, replace(before, **changes), sector_reason, c)
        c.before = before
        c.after = await client_store.update_client(
            c.session,
            client_id,
            before.updated_at if pre.given else None,
            changes,
            services.clock.now(),
        )
    services.clients.forget(client_id)
    return c.after


async def rotate_secret(
    services: Services, actor: Actor, reach: Reach, client_id: str, pre: Precondition = NONE
) -> tuple[Client, str]:
    """A new secret for a confidential client; the old one stops working at once."""
    secret = secrets.token_urlsafe(32)
    async with change(services, actor, "admin.client.secret_rotated", client_id) as c:
        before = await visible_client(c.session, reach, client_id, changing=True)
        pre.check(etag_of(before))
        if before.public:
            raise Invalid.field(["path", "client_id"], "a public client has no secret")
        c.after = await client_store.update_client(
            c.session,
            client_id,
            before.updated_at if pre.given else None,
            {"secret_digest": secret_digest(secret)},
            services.clock.now(),
        )
        c.before = before
    services.clients.forget(client_id)
    return c.after, secret


async def delete_client(
    services: Services, actor: Actor, reach: Reach, client_id: str, pre: Precondition = NONE
) -> None:
    async with change(services, actor, "admin.client.deleted", client_id) as c:
        c.before = await visible_client(c.session, reach, client_id, changing=True)
        pre.check(etag_of(c.before))
        await client_store.delete_client(
            c.session, client_id, c.before.updated_at if pre.given else None
        )
    services.clients.forget(client_id)
    services.access.forget(client_id)


# -- policies -------------------------------------------------------------------------------------


def default_policy(client_id: str) -> ClientPolicy:
    return ClientPolicy(client_id, DEFAULT_POLICY.model_dump(mode="json"), 0, 0.0)


def document_of(policy: ClientPolicy) -> PolicyDocument:
    try:
        return PolicyDocument.model_validate(policy.document)
    except ValidationError:
        return PolicyDocument(kinds=[])  # as the access service reads it: admits nobody


async def get_policy(services: Services, reach: Reach, client_id: str) -> ClientPolicy:
    async with services.database.sessions() as session:
        await visible_client(session, reach, client_id)
        stored = await client_policies.get_policy(session, client_id)
    return stored or default_policy(client_id)


async def put_policy(
    services: Services,
    actor: Actor,
    reach: Reach,
    client_id: str,
    document: PolicyDocument,
    pre: Precondition = NONE,
) -> ClientPolicy:
    async with change(services, actor, "admin.policy.updated", client_id) as c:
        await organisation.lock_tree(c.session)  # before any read: see policy_names
        await visible_client(c.session, reach, client_id, changing=True)
        await check_names(c.session, reach, client_id, document)
        stored = await client_policies.get_policy(c.session, client_id)
        before = stored or default_policy(client_id)
        pre.check(etag_of(before))
        approved = set(document_of(before).claims.restricted)
        if set(document.claims.restricted) != approved and not reach.city_wide:
            # Restricted claims (full ID numbers) are approved city-wide, not by the app's owner.
            raise Forbidden("Only city-wide administrators approve restricted claims.")
        c.before = {"document": before.document, "version": before.version}
        try:
            policy = await client_policies.put_policy(
                c.session,
                client_id,
                document.model_dump(mode="json"),
                before.version if pre.given else None,
                services.clock.now(),
            )
        except IntegrityError as error:
            # Two first policies written at once: the other one won.
            raise Stale("The policy changed since it was read.") from error
        c.after = {"document": policy.document, "version": policy.version}
    services.access.forget(client_id)
    return policy
