"""The ``http`` backend: a JSON POST to the city's real-name service, signed as the SMS webhook
is (``X-Yihaotong-Timestamp``, and ``X-Yihaotong-Signature``: ``v1=`` + hex HMAC-SHA256 over
``timestamp + "." + body`` with the shared secret). The service answers 200 with
``{"match": true|false, "reference": "…"}``; anything else is no verdict. docs/real-name.md."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Callable

import orjson

from gateway.identity.real_name import (
    CheckRequest,
    CheckResult,
    CheckUnavailable,
    RealNameConfig,
)
from gateway.identity.sms.webhook import signature


class WebhookChecker:
    name = "http"
    methods = frozenset({"id_pair", "network_id", "face"})

    def __init__(self, config: RealNameConfig, now: Callable[[], float]) -> None:
        if not config.http_url or not config.http_secret:
            raise ValueError(
                "the http real-name backend needs YIHAOTONG_REAL_NAME_HTTP_URL and _SECRET"
            )
        if not config.http_url.startswith(("https://", "http://")):
            raise ValueError("YIHAOTONG_REAL_NAME_HTTP_URL must be an http(s) URL")
        self._url, self._secret, self._timeout = config.http_url, config.http_secret, config.timeout
        self._now = now

    def _post(self, body: bytes, timestamp: str) -> tuple[int, bytes]:
        request = urllib.request.Request(  # noqa: S310 (the URL is ours, http(s) checked)
            self._url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Yihaotong-Timestamp": timestamp,
                "X-Yihaotong-Signature": signature(self._secret, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:  # noqa: S310
                return int(answer.status), answer.read(65536)
        except urllib.error.HTTPError as error:
            return int(error.code), b""

    async def check(self, request: CheckRequest) -> CheckResult:
        body = orjson.dumps(
            {
                "method": request.method,
                "name": request.name,
                "national_id": request.national_id,
                "evidence": request.evidence,
                "reference": request.reference,
            }
        )
        try:
            status, answer = await asyncio.to_thread(self._post, body, str(int(self._now())))
        except (OSError, ValueError) as error:
            raise CheckUnavailable(f"service unreachable: {type(error).__name__}") from error
        if status != 200:
            raise CheckUnavailable(f"service answered {status}")
        try:
            verdict = orjson.loads(answer)
            match = verdict["match"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise CheckUnavailable("service answered without a verdict") from error
        if not isinstance(match, bool):
            raise CheckUnavailable("service answered without a verdict")
        return CheckResult(match, str(verdict.get("reference", ""))[:128])
