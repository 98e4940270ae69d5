"""The gateway's Prometheus metrics (prometheus-client), defined once for every room.

Labels hold only bounded, non-personal values: route templates, grant types, client ids, login
system ids, outcomes. Under ``serve --workers N`` prometheus-client keeps each worker's values
in ``PROMETHEUS_MULTIPROC_DIR`` (set by ``serve``) and the scrape adds them up."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram, disable_created_metrics

from gateway.identity.spans import span
from providers.base import AccountLocked
from store.records import AuditEvent

# No ``*_created`` series beside each counter: they double a scrape and no panel reads them.
disable_created_metrics()

# Latencies of one request or one upstream call: from a Redis round trip to a slow department.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

REQUESTS = Histogram(
    "yihaotong_http_request_duration_seconds",
    "HTTP requests by method, route template and status, and how long they took.",
    ["method", "route", "status"],
    buckets=_BUCKETS,
)
SIGN_INS = Counter(
    "yihaotong_sign_ins_total",
    "Sign-in attempts by method (a login system id, sms, otp, passkey ...) and outcome.",
    ["method", "outcome"],
)
LOCKOUTS = Counter(
    "yihaotong_lockouts_total",
    "Sign-ins refused by a lockout, by what was locked (account, address, device).",
    ["by"],
)
TOKENS_ISSUED = Counter(
    "yihaotong_tokens_issued_total",
    "Token responses by grant type and client id.",
    ["grant_type", "client_id"],
)
TOKEN_REUSE = Counter(
    "yihaotong_token_reuse_detected_total",
    "A refresh token or an authorization code used twice (its family revoked).",
    ["credential"],
)
BACKCHANNEL = Counter(
    "yihaotong_backchannel_logout_total",
    "Back-channel logout deliveries by channel (oidc, cas, saml) and outcome.",
    ["channel", "outcome"],
)
LOGIN_SYSTEM_SECONDS = Histogram(
    "yihaotong_login_system_duration_seconds",
    "Calls to a department's login system, by its id.",
    ["provider"],
    buckets=_BUCKETS,
)
LOGIN_SYSTEM_ERRORS = Counter(
    "yihaotong_login_system_errors_total",
    "Calls to a department's login system that failed (unreachable, unexpected answer).",
    ["provider"],
)
DATABASE_SECONDS = Histogram(
    "yihaotong_database_statement_duration_seconds",
    "SQL statements, by outcome (ok, error).",
    ["outcome"],
    buckets=_STORE_BUCKETS,
)
EXPIRING_STORE_SECONDS = Histogram(
    "yihaotong_redis_command_duration_seconds",
    "Calls to the expiring store (Redis), by operation and outcome (ok, error).",
    ["operation", "outcome"],
    buckets=_STORE_BUCKETS,
)
CLIENT_LIMITED = Counter(
    "yihaotong_client_rate_limited_total",
    "Requests refused with 429 because their client was over its limit, by endpoint.",
    ["endpoint", "client_id"],
)
EXPIRED_UNUSED = Counter(
    "yihaotong_expired_unused_total",
    "Single-use codes and tickets that expired without being redeemed, by kind.",
    ["kind"],
)

_SIGN_IN_EVENTS = {
    "login.succeeded": "success",
    "login.failed": "failure",
    "login.locked": "locked",
    "login.device_locked": "locked",
    "login.otp": "success",
    "login.otp_failed": "failure",
    "login.passkey_failed": "failure",
    "login.recovery_code": "success",
    "login.recovery_code_failed": "failure",
}
_SECOND_STEP = {"login.otp": "otp", "login.otp_failed": "otp", "login.passkey_failed": "passkey"}
_LABEL = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_REUSE = {"refresh token reuse": "refresh_token", "code reuse": "code"}


def label(value: object, fallback: str = "other") -> str:
    """``value`` when it looks like an id (a typed form field must not grow the label set
    with arbitrary text), else ``fallback``."""
    return value if isinstance(value, str) and _LABEL.match(value) else fallback


def observe_event(event: AuditEvent) -> None:
    """Count what an audit entry says happened (every security event passes the audit log)."""
    name = event.event
    details = event.details or {}
    outcome = _SIGN_IN_EVENTS.get(name)
    if outcome is not None:
        method = _SECOND_STEP.get(name) or ("recovery_code" if "recovery" in name else None)
        SIGN_INS.labels(method or label(details.get("provider"), "local"), outcome).inc()
        if outcome == "locked":
            by = "device" if name == "login.device_locked" else details.get("by")
            LOCKOUTS.labels(label(by)).inc()
    elif name == "token.issued":
        grant = label(details.get("grant_type"))
        TOKENS_ISSUED.labels(grant, label(event.client_id, "none")).inc()
    elif name == "token.revoked":
        credential = _REUSE.get(details.get("reason", ""))
        if credential is not None:
            TOKEN_REUSE.labels(credential).inc()


@contextmanager
def login_system_call(provider_id: str) -> Iterator[None]:
    """Time one call to a department's login system (in a span when tracing is on); count it
    as an error if it raises."""
    started = time.perf_counter()
    try:
        with span("login system call", {"yihaotong.login_system": provider_id}, (AccountLocked,)):
            yield
    except AccountLocked:
        raise  # the department's verdict on the account, not its failure
    except Exception:
        LOGIN_SYSTEM_ERRORS.labels(provider_id).inc()
        raise
    finally:
        LOGIN_SYSTEM_SECONDS.labels(provider_id).observe(time.perf_counter() - started)
