"""The ``http`` backend: a JSON POST to the city's own SMS gateway, signed with a shared secret.

Headers: ``X-Yihaotong-Timestamp`` (epoch seconds) and ``X-Yihaotong-Signature``
(``v1=`` + hex HMAC-SHA256 over ``timestamp + "." + body``); docs/sms.md says how to check it.
Any 2xx is success. The standard library's client in a thread: this room holds no HTTP library."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import urllib.error
import urllib.request
from collections.abc import Callable

import orjson

from gateway.identity.sms import SmsConfig, SmsFailed, SmsMessage


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


class WebhookSender:
    name = "http"

    def __init__(self, config: SmsConfig, now: Callable[[], float]) -> None:
        if not config.http_url or not config.http_secret:
            raise ValueError("the http SMS backend needs YIHAOTONG_SMS_HTTP_URL and _SECRET")
        if not config.http_url.startswith(("https://", "http://")):
            raise ValueError("YIHAOTONG_SMS_HTTP_URL must be an http(s) URL")
        self._url, self._secret, self._timeout = config.http_url, config.http_secret, config.timeout
        self._now = now

    def _post(self, body: bytes, timestamp: str) -> int:
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
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    async def send(self, message: SmsMessage) -> None:
        body = orjson.dumps(
            {
                "phone": message.phone,
                "template": message.template,
                "code": message.code,
                "text": message.text,
            }
        )
        try:
            status = await asyncio.to_thread(self._post, body, str(int(self._now())))
        except (OSError, ValueError) as error:
            raise SmsFailed(f"gateway unreachable: {type(error).__name__}") from error
        if not 200 <= status < 300:
            raise SmsFailed(f"gateway answered {status}")
