"""CPU time a request by phase, for ``python -m bench.cpu --phases``: named functions of the
request's path wrapped with ``time.process_time`` (no profiler, so no per-call overhead
beyond two clock reads). Phases nest: a phase's time includes the phases it calls."""

from __future__ import annotations

import collections
import functools
import importlib
import inspect
import time
from typing import Any

# (module, attribute path, label); a label's time is summed over all its calls.
PHASES: dict[str, list[tuple[str, str, str]]] = {
    "authorize_prompt_none": [
        ("gateway.endpoints.authorize", "authorization_endpoint", "endpoint"),
        ("gateway.endpoints.authorize", "parse_params", "query parsed"),
        ("gateway.endpoints.authorize", "sign_in_facts", "session and account"),
        ("gateway.endpoints.authorize", "access_facts", "access policy, consents"),
        (
            "authlib.oauth2.rfc6749.authorization_server",
            "AuthorizationServer.get_consent_grant",
            "Authlib: request validated",
        ),
        ("gateway.endpoints.authorize", "_issue", "claims, code minted (Authlib)"),
        ("gateway.endpoints.authorize", "_deliver_code", "audit queued, redirect"),
        ("gateway.identity.audit", "AuditLog.queue", "audit entry queued"),
    ],
    "token": [
        ("gateway.endpoints.token", "read_form", "form read"),
        ("gateway.endpoints.token", "prefetch_grant", "code or refresh token loaded"),
        ("gateway.oauth.server", "AuthorizationServer.create_token_response", "Authlib grant"),
        ("keys.ring", "KeyRing.sign", "JWS signed"),
        ("gateway.identity.audit", "AuditLog.queue", "audit entry queued"),
    ],
    "sms_login": [
        ("gateway.pages.sms_sign_in", "send_code", "send: endpoint"),
        ("gateway.pages.sms_sign_in", "verify_code", "verify: endpoint"),
        ("gateway.pages.sms_sign_in", "posted_form", "form read, CSRF checked"),
        ("gateway.pages.sms_sign_in", "_transaction", "transaction loaded"),
        ("gateway.pages.sms_sign_in", "page", "page rendered"),
        ("gateway.identity.sms_limits", "SmsLimits.count", "send limits counted"),
        ("gateway.identity.sms_codes", "SmsCodes.issue", "code issued"),
        ("gateway.identity.sms_codes", "SmsCodes.check", "code checked"),
        ("gateway.identity.sms.log", "LogSender.send", "log sender: outbox written"),
        ("gateway.pages.sms_sign_in", "signed_in", "signed in (session, place, audit)"),
        ("gateway.pages.sign_in", "Place.arrive", "sign-in place read and kept"),
        ("gateway.pages.sign_in", "_start_session", "session started"),
        ("gateway.pages.sign_in", "Place.tell", "place told"),
    ],
    "store": [
        ("store.redis_kv", "RedisStore.get_many", "Redis MGET"),
        ("store.redis_kv", "RedisStore.put", "Redis SET"),
        ("store.redis_kv", "RedisStore.redeem", "Redis script: code redeemed"),
        ("store.redis_kv", "RedisStore.settle", "Redis script: code settled"),
        ("store.database", "Database.read", "SQL read"),
        ("store.database", "Database.write", "SQL write"),
    ],
}


class Phases:
    """Sums of CPU time by label while ``on``."""

    def __init__(self) -> None:
        self.cpu: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()
        self.on = False

    def install(self, groups: list[str]) -> None:
        # Each function once, though several groups name it.
        wanted = {(m, path): label for group in groups for m, path, label in PHASES[group]}
        for (module, path), label in wanted.items():
            owner: Any = importlib.import_module(module)
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            if hasattr(owner, name):
                setattr(owner, name, self._timed(getattr(owner, name), label))

    def _timed(self, function: Any, label: str) -> Any:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = time.process_time()
                try:
                    return await function(*args, **kwargs)
                finally:
                    self._add(label, started)

            return timed_async

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self._add(label, started)

        return timed

    def _add(self, label: str, started: float) -> None:
        if self.on:
            self.cpu[label] += time.process_time() - started
            self.calls[label] += 1

    def start(self) -> None:
        self.cpu.clear()
        self.calls.clear()
        self.on = True

    def report(self, requests: int) -> None:
        self.on = False
        for label, seconds in sorted(self.cpu.items(), key=lambda item: -item[1]):
            share = self.calls[label] / requests
            print(f"    {label:34s} {seconds / requests * 1e6:7.0f} µs  ({share:.2f} a request)")
