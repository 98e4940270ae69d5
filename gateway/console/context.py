"""Every console page and action goes through ``view``: the console session, the administrator
as the admin API sees it (the same token check, held roles and reach: ``admin_for_token``),
CSRF on every form, and each refusal answered with the admin API's status and audited as the
API audits it (``admin.denied``, under the API operation's name)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.admin.auth import READ, WRITE, Admin, admin_for_token
from gateway.admin.changes import Actor
from gateway.admin.denials import is_denial, record_denial
from gateway.admin.etags import Precondition
from gateway.admin.import_files import MAX_BYTES as MAX_UPLOAD
from gateway.admin.reach import Reach
from gateway.console import oidc
from gateway.console import session as console_session
from gateway.console.render import render
from gateway.console.session import ConsoleSession
from gateway.server.forms import FormError, read_form
from gateway.server.responses import Problem, Unauthenticated
from gateway.server.services import Services
from store.errors import Unavailable as StoreUnavailable
from store.kv import ExpiringStoreError

log = logging.getLogger("yihaotong.console")
SIGN_IN_PATH = "/admin/login"
MAX_FORM = 64 * 1024

REFRESH_MARGIN = 30  # seconds before the access token expires


@dataclass
class Console:
    request: Request
    services: Services
    admin: Admin
    session: ConsoleSession
    form: dict[str, str] = field(default_factory=dict)
    upload: tuple[str, bytes] | None = None  # a posted file: its name and bytes

    @property
    def actor(self) -> Actor:
        return Actor(self.admin.account_id, self.admin.client_id, self.request)

    def reach(self, scope: str = READ) -> Reach:
        """The reach for ``scope``, or the admin API's 403 (insufficient_scope)."""
        return self.admin.reach(scope)

    @property
    def writer(self) -> Reach:
        return self.admin.reach(WRITE)

    @property
    def city_wide(self) -> bool:
        return "" in self.admin.held.get(READ, []) and READ in self.admin.token_scopes

    @property
    def can_write(self) -> bool:
        return bool(self.admin.held.get(WRITE)) and WRITE in self.admin.token_scopes

    @property
    def csrf_token(self) -> str:
        browser, _ = self.services.csrf.browser_id(self.request)
        return self.services.csrf.token(browser, self.session.csrf_purpose)

    def precondition(self) -> Precondition:
        """The version the edit form was read at: ``If-Match`` for the admin services. Every
        console edit form carries it, so one without it is refused rather than applied over
        whatever changed since."""
        return Precondition(self.form.get("version", "").strip() or None, required=True)

    def page(self, template: str, context: dict[str, Any], status: int = 200) -> Response:
        return render(
            self.request,
            template,
            {"console": self, "csrf_token": self.csrf_token, **context},
            status,
        )


def to_sign_in(request: Request) -> Response:
    where = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = SIGN_IN_PATH if request.method != "GET" else f"{SIGN_IN_PATH}?next={quote(where)}"
    return RedirectResponse(target, status_code=303)


async def _fresh(request: Request, session: ConsoleSession) -> bool:
    """Refresh the session's access token when it is about to expire; False when it cannot be."""
    services: Services = request.app.state.services
    if session.access_expires_at - REFRESH_MARGIN > services.clock.now():
        return True
    if not session.refresh_token:
        return False
    renewed = await oidc.refresh(request, session.refresh_token)
    if renewed is None:
        return False
    session.access_token, session.access_expires_at, session.refresh_token = renewed
    await console_session.save(services, session)
    return True


async def _signed_in(request: Request) -> tuple[ConsoleSession, Admin] | None:
    services: Services = request.app.state.services
    session = await console_session.current(services, request)
    if session is None or not await _fresh(request, session):
        return None
    try:
        admin = await admin_for_token(services, session.access_token)
    except Unauthenticated:  # the account was disabled, its SSO session ended, ...
        return None
    return session, admin


def problem_page(request: Request, console: Console | None, problem: Problem) -> Response:
    context = {"problem": problem, "status": problem.status}
    if console is not None:
        return console.page("console_problem.html", context, problem.status)
    return render(request, "console_problem.html", {"console": None, **context}, problem.status)


Handler = Callable[[Console], Awaitable[Response]]


def view(
    operation: str, *, upload: bool = False
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A console page (GET) or action (POST); ``operation``: the admin API operation it does,
    the name its refusals are audited under; ``upload``: the form posts one file."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            services: Services = request.app.state.services
            console: Console | None = None
            try:
                signed_in = await _signed_in(request)
                if signed_in is None:
                    response = to_sign_in(request)
                    await console_session.end(services, None, response)
                    return response
                session, admin = signed_in
                request.state.admin = admin
                console = Console(request, services, admin, session)
                if request.method == "POST":
                    read = _read_upload if upload else _read_form
                    refused = await read(console)
                    if refused is not None:
                        return refused
                return await handler(console)
            except Problem as problem:
                if is_denial(request, problem):
                    admin = getattr(request.state, "admin", None)
                    await record_denial(
                        services,
                        request,
                        problem,
                        operation,
                        admin.account_id if admin else None,
                        admin.client_id if admin else None,
                    )
                return problem_page(request, console, problem)
            except (StoreUnavailable, SQLAlchemyError, ExpiringStoreError, OSError):
                log.exception("console request failed: a store is unavailable")
                response = problem_page(request, console, _Unavailable("try again"))
                response.headers["Retry-After"] = "1"
                return response

        endpoint.__name__ = handler.__name__
        return endpoint

    return wrap


class _Unavailable(Problem):
    status = 503
    slug = "unavailable"
    title = "Service unavailable"


class _BadForm(Problem):
    status = 400


class _Forged(Problem):
    status = 403
    slug = "csrf"
    title = "Forbidden"


def _bad_form(console: Console, description: str, status: int = 400) -> Response:
    problem = _BadForm(description)
    problem.status = status
    return problem_page(console.request, console, problem)


async def _read_form(console: Console) -> Response | None:
    try:
        console.form = await read_form(console.request, MAX_FORM)
    except FormError as error:
        return _bad_form(console, error.description, error.status)
    return _forged(console)


async def _read_upload(console: Console) -> Response | None:
    """A multipart form of a few fields and one file, refused past ``MAX_UPLOAD`` bytes."""
    request = console.request
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > MAX_UPLOAD + MAX_FORM:
        return _bad_form(console, f"Send a file of at most {MAX_UPLOAD} bytes.", 413)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return _bad_form(console, "The body must be multipart/form-data.")
    try:
        async with request.form(max_files=1, max_fields=8, max_part_size=MAX_UPLOAD) as form:
            for name, value in form.multi_items():
                if isinstance(value, str):
                    console.form[name] = value
                elif value.filename:
                    console.upload = (value.filename, await value.read(MAX_UPLOAD + 1))
    except (HTTPException, MultiPartException) as error:
        return _bad_form(console, str(getattr(error, "detail", error)))
    return _forged(console)


def _forged(console: Console) -> Response | None:
    token = console.form.get("csrf_token")
    if not console.services.csrf.valid(console.request, token, console.session.csrf_purpose):
        return problem_page(console.request, console, _Forged("The form has expired."))
    return None
