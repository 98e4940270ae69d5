"""Alibaba Cloud SMS (Dysms) through its official SDK (``alibabacloud-dysmsapi20170525``,
imported only when this backend is chosen). The SDK signs with ACS3-HMAC-SHA256 (V3)."""

from __future__ import annotations

import json
from typing import Any

from gateway.identity.phones import masked
from gateway.identity.sms import SmsConfig, SmsFailed, SmsMessage

DEFAULT_ENDPOINT = "dysmsapi.aliyuncs.com"


def _sdk() -> tuple[Any, Any, Any]:
    try:
        from alibabacloud_dysmsapi20170525 import models
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi import models as openapi
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise RuntimeError("the aliyun SMS backend needs: pip install 'yihaotong[sms]'") from error
    return Client, models, openapi


class AliyunSender:
    name = "aliyun"

    def __init__(self, config: SmsConfig) -> None:
        if not (config.access_key_id and config.access_key_secret and config.template_id):
            raise ValueError("the aliyun SMS backend needs an AccessKey and a template id")
        client, self._models, openapi = _sdk()
        endpoint = config.endpoint or DEFAULT_ENDPOINT
        # A plain-http endpoint (a test double, a private gateway) is named with its scheme.
        protocol = "http" if endpoint.startswith("http://") else "https"
        self._client = client(
            openapi.Config(
                access_key_id=config.access_key_id,
                access_key_secret=config.access_key_secret,
                endpoint=endpoint.split("://", 1)[-1],
                protocol=protocol,
                read_timeout=int(config.timeout * 1000),
                connect_timeout=int(config.timeout * 1000),
            )
        )
        self._sign_name, self._template = config.sign_name, config.template_id
        self._notice_template = config.notice_template_id

    async def send(self, message: SmsMessage) -> None:
        template = self._notice_template if message.template == "notice" else self._template
        if not template:
            raise SmsFailed("aliyun: no template id for notices")
        request = self._models.SendSmsRequest(
            phone_numbers=message.phone,
            sign_name=self._sign_name,
            template_code=template,
            template_param=json.dumps(message.params, ensure_ascii=False),
        )
        try:
            answer = await self._client.send_sms_async(request)
        except Exception as error:  # the SDK's own tree: ClientException, network errors
            code = getattr(error, "code", None) or type(error).__name__
            raise SmsFailed(f"aliyun: {code}") from error
        body = answer.body
        if body is None or body.code != "OK":
            code = getattr(body, "code", None) or "no answer"
            raise SmsFailed(f"aliyun: {code} for {masked(message.phone)}")
