"""Tencent Cloud SMS through its official SDK (``tencentcloud-sdk-python-sms``, imported only
when this backend is chosen). The SDK signs with TC3-HMAC-SHA256; it is synchronous, so the
call runs in a thread."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.identity.phones import masked
from gateway.identity.sms import SmsConfig, SmsFailed, SmsMessage

DEFAULT_ENDPOINT = "sms.tencentcloudapi.com"


def _sdk() -> tuple[Any, Any, Any, Any, Any]:
    try:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import models, sms_client
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise RuntimeError("the tencent SMS backend needs: pip install 'yihaotong[sms]'") from error
    return credential, ClientProfile, HttpProfile, models, sms_client


class TencentSender:
    name = "tencent"

    def __init__(self, config: SmsConfig) -> None:
        if not (config.access_key_id and config.access_key_secret and config.template_id):
            raise ValueError("the tencent SMS backend needs a SecretId, SecretKey and template id")
        if not config.app_id:
            raise ValueError("the tencent SMS backend needs YIHAOTONG_SMS_APP_ID")
        credential, client_profile, http_profile, self._models, sms_client = _sdk()
        endpoint = config.endpoint or DEFAULT_ENDPOINT
        http = http_profile(
            protocol="http" if endpoint.startswith("http://") else "https",
            endpoint=endpoint.split("://", 1)[-1],
            reqTimeout=max(1, int(config.timeout)),
        )
        self._client = sms_client.SmsClient(
            credential.Credential(config.access_key_id, config.access_key_secret),
            config.region,
            client_profile(httpProfile=http, signMethod="TC3-HMAC-SHA256"),
        )
        self._config = config

    def _send(self, message: SmsMessage) -> Any:
        request = self._models.SendSmsRequest()
        request.PhoneNumberSet = [f"+86{message.phone}"]
        request.SmsSdkAppId = self._config.app_id
        request.SignName = self._config.sign_name
        notice = message.template == "notice"
        request.TemplateId = self._config.notice_template_id if notice else self._config.template_id
        request.TemplateParamSet = list(message.params.values()) if notice else [message.code]
        return self._client.SendSms(request)

    async def send(self, message: SmsMessage) -> None:
        if message.template == "notice" and not self._config.notice_template_id:
            raise SmsFailed("tencent: no template id for notices")
        try:
            answer = await asyncio.to_thread(self._send, message)
        except Exception as error:  # TencentCloudSDKException and network errors
            code = getattr(error, "code", None) or type(error).__name__
            raise SmsFailed(f"tencent: {code}") from error
        statuses = answer.SendStatusSet or []
        if not statuses or statuses[0].Code != "Ok":
            code = statuses[0].Code if statuses else "no status"
            raise SmsFailed(f"tencent: {code} for {masked(message.phone)}")
