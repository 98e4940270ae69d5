"""Admin API: apps (OAuth clients), their secrets and their access policies."""

from __future__ import annotations

from gateway.admin import apps, lifecycle
from gateway.admin.auth import READ, WRITE
from gateway.admin.etags import etag_of
from gateway.admin.http import Call, Reply, endpoint
from gateway.admin.models import (
    ClientChanges,
    ClientCreate,
    ClientCreated,
    ClientOut,
    ClientPage,
    ClientQuery,
    PolicyOut,
    SecretOut,
    when,
)
from gateway.admin.models_ops import ClientStateChange
from gateway.identity.client_policy import PolicyDocument
from store.records import Client, ClientPolicy

TAG = "clients"
POLICY_TAG = "policies"
# Fields that cannot be null: a null for them means "leave as it is".
NOT_NULL = {
    "client_name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "scopes",
    "subject_type",
    "require_consent",
    "access_token_format",
    "resource_server",
    "admin_console",
    "protocol",
    "service_urls",
    "cas_proxy",
    "cas_v1",
    "dpop_bound_access_tokens",
    "require_pushed_authorization_requests",
    "sp_metadata",
    "requests_per_minute",
}


def client_out(client: Client) -> dict:
    return {
        "client_id": client.client_id,
        "client_name": client.name,
        "public": client.public,
        "token_endpoint_auth_method": client.token_endpoint_auth_method or "client_secret_basic",
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "frontchannel_logout_uri": client.frontchannel_logout_uri,
        "subject_type": client.subject_type,
        "sector_identifier": client.sector_identifier,
        "grant_types": list(client.grant_types),
        "scopes": list(client.scopes),
        "require_consent": client.require_consent,
        "access_token_format": client.access_token_format,
        "resource_server": client.resource_server,
        "admin_console": client.admin_console,
        "protocol": client.protocol,
        "service_urls": list(client.service_urls),
        "cas_proxy": client.cas_proxy,
        "cas_v1": client.cas_v1,
        "dpop_bound_access_tokens": client.dpop_bound_access_tokens,
        "require_pushed_authorization_requests": client.require_pushed_authorization_requests,
        "sp_metadata": client.sp_metadata or None,
        "requests_per_minute": client.requests_per_minute,
        "department_id": client.department_id,
        "state": client.state,
        "created_at": when(client.created_at),
        "updated_at": when(client.updated_at),
    }


def _given(call: Call) -> dict:
    """The body's fields that were sent, less nulls for fields that cannot be null (a null
    there means "as it is": the default on registration, unchanged on a change)."""
    values = {name: getattr(call.body, name) for name in call.fields}
    return {k: v for k, v in values.items() if not (v is None and k in NOT_NULL)}


def policy_out(policy: ClientPolicy) -> PolicyOut:
    return PolicyOut(
        client_id=policy.client_id,
        version=policy.version,
        document=apps.document_of(policy),
        updated_at=when(policy.updated_at) if policy.version else None,
    )


@endpoint(
    "GET",
    "/clients",
    scope=READ,
    tag=TAG,
    summary="List clients",
    out=ClientPage,
    query=ClientQuery,
)
async def list_clients(call: Call) -> Reply:
    """Apps owned by departments inside your subtrees (city-wide: every app)."""
    q: ClientQuery = call.query
    items, total = await apps.list_clients(
        call.services, call.reach, q.offset, q.limit, q.department_id, q.name
    )
    return Reply(
        ClientPage(
            items=[ClientOut(**client_out(c)) for c in items],
            total=total,
            offset=q.offset,
            limit=q.limit,
        )
    )


@endpoint(
    "POST",
    "/clients",
    scope=WRITE,
    tag=TAG,
    summary="Register a client",
    out=ClientCreated,
    status=201,
    body=ClientCreate,
    etag=True,
)
async def create_client(call: Call) -> Reply:
    """A confidential client's secret is in this answer and never again. A department
    administrator must name a department it administers as the owner, and may not give the app
    privileged scopes (admin:*, enterprise:manage), admin_console or resource_server."""
    values = _given(call)
    client, secret = await apps.create_client(call.services, call.actor, call.reach, values)
    return Reply(
        ClientCreated(**client_out(client), client_secret=secret),
        status=201,
        etag=etag_of(client),
    )


@endpoint(
    "GET",
    "/clients/{client_id}",
    scope=READ,
    tag=TAG,
    summary="Get a client",
    out=ClientOut,
    etag=True,
)
async def get_client(call: Call) -> Reply:
    client = await apps.get_client(call.services, call.reach, call.params["client_id"])
    return Reply(ClientOut(**client_out(client)), etag=etag_of(client))


@endpoint(
    "PATCH",
    "/clients/{client_id}",
    scope=WRITE,
    tag=TAG,
    summary="Change a client",
    out=ClientOut,
    body=ClientChanges,
    etag=True,
    if_match=True,
)
async def patch_client(call: Call) -> Reply:
    """Fields left out stay as they are; the result is checked like a registration. An app
    with privileged scopes, admin_console or resource_server is changed city-wide only."""
    values = _given(call)
    client = await apps.update_client(
        call.services, call.actor, call.reach, call.params["client_id"], values, call.pre
    )
    return Reply(ClientOut(**client_out(client)), etag=etag_of(client))


@endpoint(
    "DELETE",
    "/clients/{client_id}",
    scope=WRITE,
    tag=TAG,
    summary="Delete a client (with its roles and policy)",
    status=204,
    if_match=True,
)
async def delete_client(call: Call) -> Reply:
    await apps.delete_client(
        call.services, call.actor, call.reach, call.params["client_id"], call.pre
    )
    return Reply(status=204)


@endpoint(
    "POST",
    "/clients/{client_id}/secret",
    scope=WRITE,
    tag=TAG,
    summary="Rotate a client's secret",
    out=SecretOut,
    etag=True,
    if_match=True,
)
async def rotate_secret(call: Call) -> Reply:
    """The new secret is in this answer and never again; the old one stops working now."""
    client, secret = await apps.rotate_secret(
        call.services, call.actor, call.reach, call.params["client_id"], call.pre
    )
    return Reply(SecretOut(client_id=client.client_id, client_secret=secret), etag=etag_of(client))


@endpoint(
    "PUT",
    "/clients/{client_id}/state",
    scope=WRITE,
    tag=TAG,
    summary="Change a client's lifecycle state",
    out=ClientOut,
    body=ClientStateChange,
    etag=True,
    if_match=True,
)
async def set_client_state(call: Call) -> Reply:
    """draft → live or retired; live ⇄ suspended; any → retired, which is final (409 after).
    Only a live app signs people in or gets tokens: out of service, authorization requests
    get unauthorized_client (at a registered redirect URI), token requests invalid_client,
    CAS validation INVALID_SERVICE and SAML requests a Responder status."""
    client = await lifecycle.set_state(
        call.services, call.actor, call.reach, call.params["client_id"], call.body.state, call.pre
    )
    return Reply(ClientOut(**client_out(client)), etag=etag_of(client))


@endpoint(
    "GET",
    "/clients/{client_id}/policy",
    scope=READ,
    tag=POLICY_TAG,
    summary="Get a client's access policy",
    out=PolicyOut,
    etag=True,
)
async def get_policy(call: Call) -> Reply:
    """A client without a policy of its own has the default one (version 0)."""
    policy = await apps.get_policy(call.services, call.reach, call.params["client_id"])
    return Reply(policy_out(policy), etag=etag_of(policy))


@endpoint(
    "PUT",
    "/clients/{client_id}/policy",
    scope=WRITE,
    tag=POLICY_TAG,
    summary="Replace a client's access policy",
    out=PolicyOut,
    body=PolicyDocument,
    etag=True,
    if_match=True,
)
async def put_policy(call: Call) -> Reply:
    """Send If-Match with the ETag you read: a policy changed meanwhile is not overwritten."""
    policy = await apps.put_policy(
        call.services, call.actor, call.reach, call.params["client_id"], call.body, call.pre
    )
    return Reply(policy_out(policy), etag=etag_of(policy))
