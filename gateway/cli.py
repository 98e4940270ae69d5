"""The ``yihaotong`` command. Its flags and ``--json`` shapes are a contract: scripts and
conformance tools drive the gateway through them."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from gateway.errors import GatewayError, InvalidInput
from gateway.services import Services, initialize, open_services, require_initialized
from gateway.settings import Settings
from keys.master import MasterKeyError
from keys.ring import KeyRingError
from policies.clients import JWT
from providers.base import ProviderError, ProviderUnavailable
from store.records import Client

T = TypeVar("T")

app = typer.Typer(
    name="yihaotong",
    help="一号通 Yihaotong: unified identity and single sign-on gateway.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="Local 一号通 accounts.", no_args_is_help=True)
clients_app = typer.Typer(
    help="OAuth / OpenID Connect clients (department apps).", no_args_is_help=True
)
keys_app = typer.Typer(help="Signing keys.", no_args_is_help=True)
providers_app = typer.Typer(help="Department login systems.", no_args_is_help=True)
departments_app = typer.Typer(help="The organisation tree (市 → 区 → 部门).", no_args_is_help=True)
roles_app = typer.Typer(help="Roles: global, or an app's own (--client).", no_args_is_help=True)
policies_app = typer.Typer(help="Each app's access and claims policy.", no_args_is_help=True)
admin_app = typer.Typer(help="Administrators of the admin API.", no_args_is_help=True)
app.add_typer(providers_app, name="providers")
app.add_typer(departments_app, name="departments")
app.add_typer(roles_app, name="roles")
app.add_typer(policies_app, name="policies")
app.add_typer(admin_app, name="admin")
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"YIHAOTONG_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in error.errors()
        )
        fail(f"invalid configuration: {problems}", 2)


def run(work: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(work())
    except GatewayError as error:
        fail(str(error))
    except (MasterKeyError, KeyRingError) as error:
        fail(str(error))


def with_services(
    settings: Settings, action: Callable[[Services], Awaitable[T]], *, read_only: bool = False
) -> T:
    """Run ``action`` on opened services. Writing commands initialize first (as ``serve``
    does); read-only ones never create anything and say so when there is nothing yet."""

    async def work() -> T:
        if read_only:
            await require_initialized(settings)
        else:
            await initialize(settings)
        services = await open_services(settings)
        try:
            return await action(services)
        finally:
            await services.close()

    return run(work)


def emit(as_json: bool, document: dict[str, Any], lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(document, ensure_ascii=False))
    else:
        for line in lines:
            typer.echo(line)


def iso(epoch: float | None) -> str | None:
    return (
        None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
    )


# -- init / serve -----------------------------------------------------------------------------


@app.command()
def init(as_json: JsonFlag = False) -> None:
    """Create DATA_DIR, the database schema, the master key and the first signing keys."""
    settings = load_settings()
    created = run(lambda: initialize(settings))
    master = str(settings.resolved_master_key_file)
    emit(
        as_json,
        {
            "data_dir": str(settings.data_dir),
            "master_key_file": master,
            "master_key_created": created,
        },
        [
            f"data directory: {settings.data_dir}",
            f"master key: {master} ({'created' if created else 'kept'}) — back it up; "
            "without it the signing keys cannot be opened",
            "database schema: up to date",
        ],
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run the gateway (runs init first when needed)."""
    import uvicorn

    from gateway.logs import configure_logging
    from gateway.protocol import GatewayProtocol

    settings = load_settings()
    configure_logging(settings.log_level)
    log = logging.getLogger("yihaotong")
    for warning in settings.unsafe_defaults(workers):
        log.warning("unsafe default: %s", warning)
    run(lambda: initialize(settings))
    log.info(
        "serving",
        extra={
            "fields": {
                "issuer": settings.issuer,
                "listen": f"http://{host}:{port}",
                "workers": workers,
            }
        },
    )
    uvicorn.run(
        "gateway.app:create_app_from_environment",
        factory=True,
        http=GatewayProtocol,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
    )


# -- users ------------------------------------------------------------------------------------


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option(help="Sign-in name.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    phone: Annotated[str | None, typer.Option(help="Mobile number.")] = None,
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a local account."""
    if not password_stdin:
        fail("give the password on standard input with --password-stdin (never as an argument)")
    password = sys.stdin.read()
    password = password[:-1] if password.endswith("\n") else password
    password = password[:-1] if password.endswith("\r") else password
    settings = load_settings()
    account = with_services(
        settings,
        lambda s: s.accounts.create_local(
            username=username, password=password, name=name, phone=phone, email=email
        ),
    )
    document = {
        "id": account.id,
        "username": account.username,
        "name": account.name,
        "phone": account.phone,
        "email": account.email,
        "created_at": iso(account.created_at),
    }
    emit(as_json, document, [f"created account {account.username} (id {account.id})"])


# -- clients ----------------------------------------------------------------------------------


def client_document(client: Client) -> dict[str, Any]:
    method = client.token_endpoint_auth_method or "client_secret_basic"
    return {
        "client_id": client.client_id,
        "client_name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "frontchannel_logout_uri": client.frontchannel_logout_uri,
        "subject_type": client.subject_type,
        "sector_identifier": client.sector_identifier,
        "grant_types": list(client.grant_types),
        "token_endpoint_auth_method": method,
        "public": client.public,
        "require_consent": client.require_consent,
        "access_token_format": client.access_token_format,
        "resource_server": client.resource_server,
        "admin_console": client.admin_console,
        "scope": " ".join(client.scopes),
        "created_at": iso(client.created_at),
    }


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="Name shown to users.")],
    redirect_uri: Annotated[
        list[str] | None, typer.Option("--redirect-uri", help="Redirect URI (repeatable).")
    ] = None,
    post_logout_redirect_uri: Annotated[
        list[str] | None,
        typer.Option("--post-logout-redirect-uri", help="Post-logout redirect URI (repeatable)."),
    ] = None,
    backchannel_logout_uri: Annotated[
        str | None, typer.Option(help="Back-channel logout URI.")
    ] = None,
    frontchannel_logout_uri: Annotated[
        str | None, typer.Option(help="Front-channel logout URI (loaded in an iframe).")
    ] = None,
    subject_type: Annotated[
        str, typer.Option(help="public, or pairwise: a different `sub` per sector.")
    ] = "public",
    sector_identifier: Annotated[
        str | None, typer.Option(help="Sector for pairwise subjects (default: redirect host).")
    ] = None,
    grant_type: Annotated[
        list[str] | None,
        typer.Option(
            "--grant-type",
            help="authorization_code, refresh_token, client_credentials (repeatable; "
            "default authorization_code + refresh_token).",
        ),
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="No secret: 'none' auth + PKCE.")
    ] = False,
    require_consent: Annotated[
        bool, typer.Option("--require-consent", help="Ask users to consent.")
    ] = False,
    token_endpoint_auth_method: Annotated[
        str | None,
        typer.Option(help="Pin client_secret_basic or client_secret_post (default: either)."),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="API scope the client may request (repeatable)."),
    ] = None,
    access_token_format: Annotated[
        str,
        typer.Option(
            help="jwt (RFC 9068, checked with the JWKS) or opaque (resolved by introspection)."
        ),
    ] = JWT,
    resource_server: Annotated[
        bool,
        typer.Option(
            "--resource-server", help="An API: may introspect other clients' access tokens."
        ),
    ] = False,
    admin_console: Annotated[
        bool,
        typer.Option(
            "--admin-console",
            help="Designated for administration: the admin API accepts its tokens "
            "(give it --scope admin:read and/or admin:write).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Register a client. A confidential client's secret is printed once and never again."""
    settings = load_settings()
    registered = with_services(
        settings,
        lambda s: s.clients.register(
            name=name,
            redirect_uris=redirect_uri or [],
            post_logout_redirect_uris=post_logout_redirect_uri or [],
            backchannel_logout_uri=backchannel_logout_uri,
            frontchannel_logout_uri=frontchannel_logout_uri,
            subject_type=subject_type,
            sector_identifier=sector_identifier,
            grant_types=grant_type,
            public=public,
            require_consent=require_consent,
            token_endpoint_auth_method=token_endpoint_auth_method,
            scopes=scope or [],
            access_token_format=access_token_format,
            resource_server=resource_server,
            admin_console=admin_console,
        ),
    )
    document = {**client_document(registered.client), "client_secret": registered.client_secret}
    lines = [f"client_id:     {registered.client.client_id}"]
    if registered.client_secret:
        lines.append(f"client_secret: {registered.client_secret}")
        lines.append("(the secret is shown only now; store it in the app's secret store)")
    emit(as_json, document, lines)


@clients_app.command("list")
def clients_list(as_json: JsonFlag = False) -> None:
    """List registered clients (never their secrets)."""
    settings = load_settings()
    clients = with_services(settings, lambda s: s.clients.list(), read_only=True)
    emit(
        as_json,
        {"clients": [client_document(c) for c in clients]},
        [f"{c.client_id}  {c.name}  {' '.join(c.grant_types)}" for c in clients],
    )


# -- keys -------------------------------------------------------------------------------------


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """List signing keys: next (published, not signing yet), active, retired (still published)."""
    settings = load_settings()

    async def listing(services: Services) -> list[dict[str, Any]]:
        published = {record.kid for record in services.keys.published()}
        return [
            {
                "kid": r.kid,
                "alg": r.alg,
                "state": r.state,
                "published": r.kid in published,
                "created_at": iso(r.created_at),
                "activated_at": iso(r.activated_at),
                "retired_at": iso(r.retired_at),
                "publish_until": iso(r.publish_until),
            }
            for r in services.keys.records()
        ]

    keys = with_services(settings, listing, read_only=True)
    emit(
        as_json,
        {"keys": keys},
        [f"{k['alg']:6} {k['state']:8} {k['kid']}  created {k['created_at']}" for k in keys],
    )


@keys_app.command("rotate")
def keys_rotate(
    alg: Annotated[
        str | None, typer.Option(help="Algorithm (default: the first configured).")
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Rotate even if the next key was published only recently."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Retire the active key, let the published next key sign, publish a new next key."""
    settings = load_settings()
    result = with_services(settings, lambda s: s.keys.rotate(alg, force=force))
    document = {
        "alg": result.alg,
        "rotated": result.rotated,
        "active_kid": result.active_kid,
        "next_kid": result.next_kid,
    }
    line = (
        f"{result.alg}: now signing with {result.active_kid}; next key {result.next_kid}"
        if result.rotated
        else f"{result.alg}: another instance rotated at the same moment; nothing changed"
    )
    emit(as_json, document, [line])


# -- providers --------------------------------------------------------------------------------


def _department_document(department: Any) -> dict[str, Any]:
    config = department.config
    return {
        "id": department.id,
        "type": config.type,
        "name": config.name,
        "position": config.position,
        "assurance": config.assurance,
        "trusted_for": sorted(config.trusted_for),
        "verified": sorted(config.verified),
        "password": department.takes_passwords,
    }


@providers_app.command("add")
def providers_add(
    provider_id: Annotated[str, typer.Option("--id", help="Short id, e.g. tax.")],
    kind: Annotated[str, typer.Option("--type", help="ldap, legacy_sql, oidc or cas.")],
    config_file: Annotated[
        Path, typer.Option("--config", help="JSON file with the provider's settings.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Add a department login system; its settings (secrets included) are stored encrypted."""
    try:
        data = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        fail(f"cannot read {config_file}: {error}")
    if not isinstance(data, dict):
        fail(f"{config_file} must hold a JSON object")
    settings = load_settings()

    async def add(services: Services) -> Any:
        await services.departments.add(provider_id, kind, data)
        return await services.departments.get(provider_id)

    department = with_services(settings, add)
    emit(as_json, _department_document(department), [f"added {provider_id}: {department.name}"])


@providers_app.command("list")
def providers_list(as_json: JsonFlag = False) -> None:
    """List department login systems in sign-in page order (never their secrets)."""
    settings = load_settings()
    departments = with_services(settings, lambda s: s.departments.all(), read_only=True)
    emit(
        as_json,
        {"providers": [_department_document(d) for d in departments]},
        [f"{d.id:16} {d.config.type:10} {d.name}" for d in departments],
    )


@providers_app.command("remove")
def providers_remove(provider_id: Annotated[str, typer.Argument(help="Provider id.")]) -> None:
    """Remove a department login system (accounts and their links stay)."""
    settings = load_settings()
    if not with_services(settings, lambda s: s.departments.remove(provider_id)):
        fail(f"no provider {provider_id!r}")
    typer.echo(f"removed {provider_id}")


@providers_app.command("test")
def providers_test(provider_id: Annotated[str, typer.Argument(help="Provider id.")]) -> None:
    """Check that the department's system answers, and say what it found."""
    settings = load_settings()

    async def check(services: Services) -> str:
        department = await services.departments.get(provider_id)
        if department is None:
            raise InvalidInput("id", f"no provider {provider_id!r}")
        try:
            return await department.provider.check()
        except ProviderUnavailable as error:
            raise GatewayError(f"{error.department}: {error.reason}") from error
        except ProviderError as error:
            raise GatewayError(str(error)) from error

    typer.echo(f"{provider_id}: {with_services(settings, check, read_only=True)}")


# -- organisation: departments, roles, assignments, policies, administrators ------------------
# The same operations as the admin API (gateway/admin), city-wide, audited with actor "cli".


def with_admin(
    settings: Settings, action: Callable[[Services], Awaitable[T]], *, read_only: bool = False
) -> T:
    from gateway.admin.errors import Problem

    try:
        return with_services(settings, action, read_only=read_only)
    except Problem as problem:
        fail(problem.detail)


def _department_json(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "parent_id": d.parent_id,
        "path": d.path,
        "version": d.version,
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
    }


def _role_json(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "client_id": r.client_id or None,
        "name": r.name,
        "description": r.description,
        "version": r.version,
    }


def _assignment_json(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "role_id": a.role_id,
        "account_id": a.account_id,
        "department_id": a.department_id or None,
        "granted_by": a.granted_by,
        "created_at": iso(a.created_at),
        "expires_at": iso(a.expires_at),
    }


async def _account_id(services: Services, account: str) -> str:
    """An account named by id or by username."""
    from policies.accounts import canonical_username
    from store.accounts import AccountStore

    found = await services.accounts.get(account)
    if found is None:
        found = await AccountStore(services.database).by_username(canonical_username(account))
    if found is None:
        raise InvalidInput("account", f"no account {account!r}")
    return found.id


async def _role(services: Services, name: str, client: str | None) -> Any:
    from store.roles import role_by_name

    async with services.database.sessions() as session:
        role = await role_by_name(session, client or "", name)
    if role is None:
        owner = f"of client {client}" if client else "global"
        raise InvalidInput("role", f"no {owner} role {name!r}")
    return role


def _expiry(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--expires: {value!r} is not an ISO 8601 date and time")
    if moment.tzinfo is None:
        fail("--expires: give a time zone, e.g. 2030-01-31T18:00:00+08:00")
    return moment.timestamp()


ClientOption = Annotated[
    str | None, typer.Option("--client", help="The app (client id) whose role it is.")
]
DepartmentOption = Annotated[
    str | None, typer.Option("--department", help="Hold it inside this department's subtree.")
]


@departments_app.command("add")
def departments_add(
    department_id: Annotated[str, typer.Argument(help="Short id, e.g. tax (a-z, 0-9, -).")],
    name: Annotated[str, typer.Option(help="Name, e.g. 税务局.")],
    parent: Annotated[str | None, typer.Option(help="Parent department id.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a department (below --parent, or as a root)."""
    from gateway.admin import org
    from gateway.admin.changes import CLI
    from gateway.admin.reach import Reach

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,31}", department_id):
        fail("a department id has 1 to 32 of a-z, 0-9 and -")
    settings = load_settings()
    department = with_admin(
        settings,
        lambda s: org.create_department(s, CLI, Reach.everywhere(), department_id, name, parent),
    )
    emit(as_json, _department_json(department), [f"added {department.path}: {department.name}"])


@departments_app.command("list")
def departments_list(
    under: Annotated[str | None, typer.Option(help="A path, e.g. /city/east.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List departments in tree order."""
    from gateway.admin import org
    from gateway.admin.reach import Reach

    settings = load_settings()

    async def listing(services: Services) -> list[Any]:
        found, _ = await org.list_departments(services, Reach.everywhere(), 0, 10**9, under)
        return found

    found = with_admin(settings, listing, read_only=True)
    emit(
        as_json,
        {"departments": [_department_json(d) for d in found]},
        [f"{d.path:40} {d.name}" for d in found],
    )


@departments_app.command("move")
def departments_move(
    department_id: Annotated[str, typer.Argument(help="Department id.")],
    parent: Annotated[str | None, typer.Option(help="New parent department id.")] = None,
    root: Annotated[bool, typer.Option("--root", help="Make it a root.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Move a department (and its subtree) below another one."""
    from gateway.admin import org
    from gateway.admin.changes import CLI
    from gateway.admin.reach import Reach

    if (parent is None) == (not root):
        fail("give either --parent or --root")
    settings = load_settings()
    department = with_admin(
        settings,
        lambda s: org.update_department(
            s, CLI, Reach.everywhere(), department_id, move=True, parent_id=parent
        ),
    )
    emit(as_json, _department_json(department), [f"moved to {department.path}"])


@departments_app.command("remove")
def departments_remove(
    department_id: Annotated[str, typer.Argument(help="Department id.")],
) -> None:
    """Remove an empty department."""
    from gateway.admin import org
    from gateway.admin.changes import CLI
    from gateway.admin.reach import Reach

    settings = load_settings()
    with_admin(settings, lambda s: org.delete_department(s, CLI, Reach.everywhere(), department_id))
    typer.echo(f"removed {department_id}")


@roles_app.command("add")
def roles_add(
    name: Annotated[str, typer.Argument(help="Role name, e.g. auditor.")],
    client: ClientOption = None,
    description: Annotated[str, typer.Option(help="What it lets one do.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Define a role: global, or with --client the app's own."""
    from gateway.admin import roles
    from gateway.admin.changes import CLI
    from gateway.admin.reach import Reach

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", name):
        fail("a role name has 1 to 64 of A-Z, a-z, 0-9 and _ . : -")
    settings = load_settings()
    role = with_admin(
        settings,
        lambda s: roles.create_role(s, CLI, Reach.everywhere(), name, description, client),
    )
    emit(as_json, _role_json(role), [f"added role {name} (id {role.id})"])


@roles_app.command("list")
def roles_list(client: ClientOption = None, as_json: JsonFlag = False) -> None:
    """List roles (with --client: that app's only)."""
    from gateway.admin import roles
    from gateway.admin.reach import Reach

    settings = load_settings()

    async def listing(services: Services) -> list[Any]:
        found, _ = await roles.list_roles(services, Reach.everywhere(), 0, 10**9, client_id=client)
        return found

    found = with_admin(settings, listing, read_only=True)
    emit(
        as_json,
        {"roles": [_role_json(r) for r in found]},
        [f"{r.client_id or '(global)':38} {r.name:24} {r.description}" for r in found],
    )


@roles_app.command("remove")
def roles_remove(
    name: Annotated[str, typer.Argument(help="Role name.")], client: ClientOption = None
) -> None:
    """Delete a role and every assignment of it."""
    from gateway.admin import roles
    from gateway.admin.changes import CLI
    from gateway.admin.reach import Reach

    settings = load_settings()

    async def remove(services: Services) -> None:
        role = await _role(services, name, client)
        await roles.delete_role(services, CLI, Reach.everywhere(), role.id)

    with_admin(settings, remove)
    typer.echo(f"removed role {name}")


@app.command("assign")
def assign(
    account: Annotated[str, typer.Argument(help="Account id or username.")],
    role: Annotated[str, typer.Argument(help="Role name.")],
    client: ClientOption = None,
    department: DepartmentOption = None,
    expires: Annotated[
        str | None, typer.Option(help="ISO 8601 end, e.g. 2030-01-31T18:00:00+08:00.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Let an account hold a role (inside a department's subtree, until a time)."""
    from gateway.admin import roles
    from gateway.admin.changes import CLI
    from gateway.admin.reach import Reach

    expires_at = _expiry(expires)
    settings = load_settings()

    async def grant(services: Services) -> Any:
        account_id = await _account_id(services, account)
        found = await _role(services, role, client)
        return await roles.assign(
            services, CLI, Reach.everywhere(), account_id, found.id, department, expires_at
        )

    assignment = with_admin(settings, grant)
    where = f" in {department}" if department else ""
    emit(as_json, _assignment_json(assignment), [f"assigned {role}{where} to {account}"])


@app.command("unassign")
def unassign(
    account: Annotated[str, typer.Argument(help="Account id or username.")],
    role: Annotated[str, typer.Argument(help="Role name.")],
    client: ClientOption = None,
    department: DepartmentOption = None,
) -> None:
    """Take a role away (the assignment in that department, or the one held everywhere)."""
    from gateway.admin import roles
    from gateway.admin.changes import CLI
    from gateway.admin.reach import Reach

    settings = load_settings()

    async def take(services: Services) -> None:
        account_id = await _account_id(services, account)
        found = await _role(services, role, client)
        held, _ = await roles.list_assignments(
            services,
            Reach.everywhere(),
            0,
            1,
            account_id=account_id,
            role_id=found.id,
            department_id=department or "",
        )
        if not held:
            raise InvalidInput("role", f"{account} does not hold {role} there")
        await roles.unassign(services, CLI, Reach.everywhere(), held[0].id)

    with_admin(settings, take)
    typer.echo(f"took {role} from {account}")


@policies_app.command("show")
def policies_show(client_id: Annotated[str, typer.Argument(help="Client id.")]) -> None:
    """Print the app's policy document (JSON); the default one when it has none."""
    from gateway.admin import apps
    from gateway.admin.reach import Reach

    settings = load_settings()
    policy = with_admin(
        settings, lambda s: apps.get_policy(s, Reach.everywhere(), client_id), read_only=True
    )
    document = apps.document_of(policy).model_dump(mode="json")
    typer.echo(
        json.dumps(
            {"client_id": client_id, "version": policy.version, "document": document},
            ensure_ascii=False,
        )
    )


@policies_app.command("set")
def policies_set(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    source: Annotated[
        str, typer.Argument(help="JSON file with the policy document, or - for stdin.")
    ] = "-",
    as_json: JsonFlag = False,
) -> None:
    """Replace the app's policy document (validated; unknown fields are refused)."""
    from gateway.admin import apps
    from gateway.admin.changes import CLI
    from gateway.admin.reach import Reach
    from gateway.client_policy import PolicyDocument

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        document = PolicyDocument.model_validate_json(text)
    except OSError as error:
        fail(f"cannot read {source}: {error}")
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}"
            for e in error.errors()
        )
        fail(f"invalid policy: {problems}")
    settings = load_settings()
    policy = with_admin(
        settings, lambda s: apps.put_policy(s, CLI, Reach.everywhere(), client_id, document)
    )
    emit(
        as_json,
        {"client_id": client_id, "version": policy.version, "document": policy.document},
        [f"policy of {client_id} is now version {policy.version}"],
    )


@admin_app.command("grant")
def admin_grant(
    account: Annotated[str, typer.Argument(help="Account id or username.")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="admin:read and/or admin:write (repeatable)."),
    ] = None,
    department: Annotated[
        str | None, typer.Option(help="Administer this department's subtree only.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make an account an administrator (the first one, too): it gets the global admin roles,
    created when missing. Its tokens need the same scopes from a client allowed them."""
    from gateway.admin import roles
    from gateway.admin.changes import CLI

    scopes = scope or ["admin:read", "admin:write"]
    settings = load_settings()

    async def grant(services: Services) -> list[Any]:
        account_id = await _account_id(services, account)
        return await roles.grant_admin(services, CLI, account_id, scopes, department)

    granted = with_admin(settings, grant)
    where = f" in {department}" if department else " city-wide"
    emit(
        as_json,
        {"assignments": [_assignment_json(a) for a in granted]},
        [f"{account} holds {' and '.join(scopes)}{where}"],
    )


def main() -> None:
    app()
