"""Sending text messages: one small interface (``SmsSender``), one module per backend.

``log`` (the development default) writes to the log and an outbox file; ``http`` posts a signed
webhook to the city's own SMS gateway; ``aliyun`` and ``tencent`` use the vendors' official SDKs,
imported only when chosen (``pip install 'yihaotong[sms]'``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class SmsFailed(Exception):
    """The message was not accepted for delivery; ``reason`` is safe to audit (no number)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SmsMessage:
    phone: str  # 11 digits, mainland
    template: str  # our name for the message: "sign_in", or "notice" (no code)
    code: str
    text: str  # the message as the person reads it (the log and http backends send this)
    params: dict[str, str] = field(default_factory=dict)


class SmsSender(Protocol):
    name: str

    async def send(self, message: SmsMessage) -> None:
        """Hand the message over for delivery, or raise ``SmsFailed``."""
        ...


@dataclass(frozen=True)
class SmsConfig:
    """What a backend needs, read from the settings by ``gateway.server.services``."""

    backend: str = "log"
    outbox: str = "sms-outbox.jsonl"
    sign_name: str = ""
    template_id: str = ""
    notice_template_id: str = ""  # security notices (identity/notices.py)
    http_url: str = ""
    http_secret: str = ""
    access_key_id: str = ""
    access_key_secret: str = ""
    endpoint: str = ""
    region: str = ""
    app_id: str = ""
    timeout: float = 5.0


def open_sender(config: SmsConfig, now: object) -> SmsSender:
    """The configured backend. ``now``: the clock's ``now`` (epoch seconds)."""
    if config.backend == "log":
        from gateway.identity.sms.log import LogSender

        return LogSender(config.outbox, now)  # type: ignore[arg-type]
    if config.backend == "http":
        from gateway.identity.sms.webhook import WebhookSender

        return WebhookSender(config, now)  # type: ignore[arg-type]
    if config.backend == "aliyun":
        from gateway.identity.sms.aliyun import AliyunSender

        return AliyunSender(config)
    if config.backend == "tencent":
        from gateway.identity.sms.tencent import TencentSender

        return TencentSender(config)
    raise ValueError(f"unknown SMS backend {config.backend!r}")
