"""``create_app``: routes, middleware and the lifespan that opens the store and the key ring."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from gateway import admin as admin_api
from gateway.account import (
    authenticator,
    closing,
    data,
    enterprise,
    home,
    navigation,
    recovery_routes,
)
from gateway.account import pages as account_pages
from gateway.account import passkeys as account_passkeys
from gateway.cas import routes as cas
from gateway.console.routes import routes as console_routes
from gateway.endpoints import (
    authorize,
    device,
    discovery,
    end_session,
    introspection,
    pushed,
    revocation,
    token,
    userinfo,
)
from gateway.identity.audit_spool import AuditUnavailable
from gateway.mobile import api as mobile_api
from gateway.pages import (
    act_for,
    consent,
    department_login,
    device_verification,
    passkey_button,
    passkey_second_factor,
    passkey_sign_in,
    scan_sign_in,
    second_factor,
    sign_in,
    sms_sign_in,
)
from gateway.pages.render import HERE, STATIC_PATH
from gateway.saml import department as saml_department
from gateway.saml import idp as saml_idp
from gateway.saml import routes as saml
from gateway.server import health, metrics
from gateway.server.lifespan import serving, tracing_for
from gateway.server.logs import (
    SECURITY_HEADERS,
    RequestLogMiddleware,
    configure_logging,
    log_request,
    request_id_for,
)
from gateway.server.responses import oauth_error
from gateway.server.services import initialize
from gateway.server.settings import Settings
from store.clock import Clock
from store.errors import Unavailable
from store.kv import ExpiringStoreError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter


log = logging.getLogger("yihaotong")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return oauth_error(str(exc.detail), status=exc.status_code, headers=dict(exc.headers or {}))


def _unavailable(request: Request, message: str) -> Response:
    log.warning(
        message,
        extra={"fields": {"request_id": request.scope.get("state", {}).get("request_id")}},
    )
    return oauth_error(
        "temporarily_unavailable",
        "The service is briefly unavailable. Try again.",
        503,
        {"Retry-After": "1"},
    )


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    # Stopped, restarting, refusing connections, out of them, read-only (store/database.py
    # decides): nothing was confirmed to the client, so it may ask again.
    return _unavailable(request, str(exc))


async def _expiring_store_error(request: Request, exc: Exception) -> Response:
    # Redis unreachable or failing over: nothing was confirmed to the client, so it may ask
    # again (RFC 6749 §4.1.2.1 temporarily_unavailable).
    return _unavailable(request, f"expiring store unavailable: {exc}")


async def _audit_unavailable(request: Request, exc: Exception) -> Response:
    # The audit entry could not be kept (the local spool is not writable): nothing is answered.
    return _unavailable(request, f"audit unavailable: {exc}")


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"fields": {"request_id": request.scope.get("state", {}).get("request_id")}},
    )
    return oauth_error("server_error", "The server could not complete the request.", 500)


Endpoint = Callable[[Request], Awaitable[Response]]
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]

ERROR_HANDLERS: dict[type[Exception], ErrorHandler] = {
    HTTPException: _http_error,
    Unavailable: _database_unavailable,
    ExpiringStoreError: _expiring_store_error,
    AuditUnavailable: _audit_unavailable,
    Exception: _server_error,
}

# The OAuth API that apps and resource servers call many times a second, by (method, path).
DIRECT_ROUTES: dict[tuple[str, str], Endpoint] = {
    ("POST", discovery.TOKEN_PATH): token.token_endpoint,
    ("GET", discovery.USERINFO_PATH): userinfo.userinfo_endpoint,
    ("POST", discovery.USERINFO_PATH): userinfo.userinfo_endpoint,
    ("POST", discovery.INTROSPECTION_PATH): introspection.introspection_endpoint,
    ("POST", discovery.REVOCATION_PATH): revocation.revocation_endpoint,
    # Thousands of PC sign-in pages wait here at once: each holds a shorter stack this way.
    ("GET", scan_sign_in.WAIT_PATH): scan_sign_in.wait,
}


class Gateway(Starlette):
    """Starlette, with one shortcut for the busiest requests: the OAuth API endpoints (and the
    scan-to-sign-in long-poll) are called
    directly (``DIRECT_ROUTES``), with what the middleware and router would give them: the
    request id, the security headers, the exception handlers and the access line (a test fails
    when a middleware is added that they would skip). Everything else takes the usual way."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            endpoint = DIRECT_ROUTES.get((method, path))
            if endpoint is not None:
                await self._call_directly(endpoint, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _call_directly(
        self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send
    ) -> None:
        started = time.perf_counter()
        request_id = request_id_for(scope)
        scope["app"] = self
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Exception as error:
            response = await self._handler_for(error)(request, error)
        response.raw_headers += [(b"x-request-id", request_id.encode()), *SECURITY_HEADERS]
        try:
            await response(scope, receive, send)
        finally:
            log_request(scope, request_id, response.status_code, started, scope["path"])

    @staticmethod
    def _handler_for(error: Exception) -> ErrorHandler:
        """The handler for the error's nearest class, found as Starlette finds it."""
        for cls in type(error).__mro__:
            if cls in ERROR_HANDLERS:
                return ERROR_HANDLERS[cls]
        return _server_error  # not reached: Exception itself has one


def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    *,
    freeze_after_start: bool = False,
    span_exporter: SpanExporter | None = None,
) -> Starlette:
    """The gateway. ``freeze_after_start`` is for a process that serves it and nothing else
    (``yihaotong serve``): the garbage collector's state is the whole process's.
    ``span_exporter``: traces on, each span handed to it as it ends (tests), whatever the
    settings say; otherwise traces follow ``YIHAOTONG_OTEL_ENABLED``."""
    settings = settings or Settings()
    tracing = tracing_for(settings, span_exporter)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await initialize(settings, clock)
        with tracing.running() if tracing is not None else contextlib.nullcontext():
            async with serving(app, settings, clock, freeze_after_start, tracing):
                yield

    routes = [
        Route(discovery.DISCOVERY_PATH, discovery.discovery_endpoint, methods=["GET"]),
        Route(discovery.OAUTH_METADATA_PATH, discovery.discovery_endpoint, methods=["GET"]),
        Route(discovery.JWKS_PATH, discovery.jwks_endpoint, methods=["GET"]),
        Route(discovery.TOKEN_PATH, token.token_endpoint, methods=["POST"]),
        Route(authorize.AUTHORIZE_PATH, authorize.authorization_endpoint, methods=["GET", "POST"]),
        Route(authorize.RESUME_PATH, authorize.resume_endpoint, methods=["GET"]),
        # Busy sign-in paths early: Starlette tries the routes in order, each a regex match.
        Route(sms_sign_in.SMS_PATH, sms_sign_in.sms_page, methods=["GET"]),
        Route(sms_sign_in.SMS_PATH, sms_sign_in.verify_code, methods=["POST"]),
        Route(sms_sign_in.SEND_PATH, sms_sign_in.send_code, methods=["POST"]),
        *cas.ROUTES,
        *(saml.ROUTES if saml_idp.available() else []),
        *(saml_department.ROUTES if saml_idp.available() else []),
        Route(discovery.USERINFO_PATH, userinfo.userinfo_endpoint, methods=["GET", "POST"]),
        Route(discovery.INTROSPECTION_PATH, introspection.introspection_endpoint, methods=["POST"]),
        Route(discovery.REVOCATION_PATH, revocation.revocation_endpoint, methods=["POST"]),
        Route(discovery.PAR_PATH, pushed.pushed_authorization_endpoint, methods=["POST"]),
        Route(
            discovery.DEVICE_AUTHORIZATION_PATH,
            device.device_authorization_endpoint,
            methods=["POST"],
        ),
        Route(device_verification.VERIFICATION_PATH, device_verification.device_page),
        Route(
            device_verification.VERIFICATION_PATH,
            device_verification.enter_code,
            methods=["POST"],
        ),
        Route(device_verification.DECIDE_PATH, device_verification.decide, methods=["POST"]),
        Route(device_verification.QR_PATH, device_verification.qr_code, methods=["GET"]),
        Route(
            end_session.END_SESSION_PATH, end_session.end_session_endpoint, methods=["GET", "POST"]
        ),
        Route(navigation.HOME_PATH, home.home_page, methods=["GET"]),
        Route(data.DATA_PATH, data.data_page, methods=["GET"]),
        Route(data.DOWNLOAD_PATH, data.data_download, methods=["GET"]),
        Route(closing.CLOSE_PATH, closing.close_page, methods=["GET"]),
        Route(closing.CLOSE_PATH, closing.close_submit, methods=["POST"]),
        Route(account_pages.SESSIONS_PATH, account_pages.sessions_page, methods=["GET"]),
        Route(account_pages.SESSIONS_PATH, account_pages.end_session_submit, methods=["POST"]),
        Route(account_pages.CONSENTS_PATH, account_pages.revoke_consent_submit, methods=["POST"]),
        Route(account_pages.LINKS_PATH, account_pages.unlink_submit, methods=["POST"]),
        Route(account_pages.DEVICES_PATH, account_pages.end_device_submit, methods=["POST"]),
        Route(department_login.START_PATH, department_login.start, methods=["GET"]),
        Route(department_login.CALLBACK_PATH, department_login.callback, methods=["GET"]),
        Route("/login", sign_in.login_page, methods=["GET"]),
        Route("/login", sign_in.login_submit, methods=["POST"]),
        Route(
            passkey_sign_in.PASSKEY_SIGN_IN_PATH, passkey_sign_in.passkey_submit, methods=["POST"]
        ),
        Route(account_passkeys.PASSKEYS_PATH, account_passkeys.passkeys_page, methods=["GET"]),
        Route(account_passkeys.PASSKEYS_PATH, account_passkeys.passkeys_submit, methods=["POST"]),
        Route(scan_sign_in.SCAN_PATH, scan_sign_in.scan_page, methods=["GET"]),
        Route(scan_sign_in.SCAN_PATH, scan_sign_in.finish, methods=["POST"]),
        Route(scan_sign_in.WAIT_PATH, scan_sign_in.wait, methods=["GET"]),
        Route(f"{mobile_api.TICKET_PAGE_PREFIX}{{ticket}}", scan_sign_in.ticket_page),
        Route(mobile_api.SCAN_PATH, mobile_api.scan, methods=["POST"]),
        Route(mobile_api.CONFIRM_PATH, mobile_api.confirm, methods=["POST"]),
        Route(mobile_api.REFUSE_PATH, mobile_api.refuse, methods=["POST"]),
        Route("/consent", consent.consent_page, methods=["GET"]),
        Route("/consent", consent.consent_submit, methods=["POST"]),
        Route(act_for.ACT_FOR_PATH, act_for.act_for_page, methods=["GET"]),
        Route(act_for.ACT_FOR_PATH, act_for.act_for_submit, methods=["POST"]),
        Route(authorize.OTP_PATH, second_factor.otp_page, methods=["GET"]),
        Route(authorize.OTP_PATH, second_factor.otp_submit, methods=["POST"]),
        Route(
            passkey_button.PASSKEY_SECOND_FACTOR_PATH,
            passkey_second_factor.passkey_second_factor_submit,
            methods=["POST"],
        ),
        Route(authenticator.ACCOUNT_OTP_PATH, authenticator.account_otp_page, methods=["GET"]),
        Route(authenticator.ACCOUNT_OTP_PATH, authenticator.account_otp_submit, methods=["POST"]),
        Route(
            f"{enterprise.PREFIX}/{{org}}/delegations",
            enterprise.delegations,
            methods=["GET", "POST"],
        ),
        Route(
            f"{enterprise.PREFIX}/{{org}}/delegations/{{delegation}}",
            enterprise.revoke,
            methods=["DELETE"],
        ),
        *recovery_routes.ROUTES,
        Mount(STATIC_PATH, StaticFiles(directory=HERE / "static"), name="static"),
        admin_api.mount(),
        *console_routes(),
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/readyz", health.readyz, methods=["GET"]),
        Route(metrics.METRICS_PATH, metrics.metrics_endpoint, methods=["GET"]),
    ]
    options: dict[str, Any] = {
        "routes": routes,
        "middleware": [Middleware(RequestLogMiddleware)],
        "exception_handlers": dict(ERROR_HANDLERS),
        "lifespan": lifespan,
    }
    if tracing is None:
        return Gateway(**options)
    from gateway.server.tracing import TracedGateway

    return TracedGateway(tracing, **options)


def create_app_from_environment() -> Starlette:
    """The uvicorn factory used by ``yihaotong serve`` (each worker reads the environment)."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings, freeze_after_start=True)
