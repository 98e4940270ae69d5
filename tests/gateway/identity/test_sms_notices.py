"""Security notices through the vendors' SDKs: their own template (no code, the event as its
parameter), signed as the vendor documents; without a notice template nothing is sent."""

from __future__ import annotations

import dataclasses
import json

import pytest

from gateway.identity.sms import SmsFailed, SmsMessage, open_sender
from tests.gateway.identity.test_sms_senders import _config
from tests.gateway.sms_vendors import vendor

NOTICE = SmsMessage(
    "13912345678", "notice", "", "您的账号密码已修改", {"event": "password_changed"}
)


@pytest.mark.parametrize("kind", ["aliyun", "tencent"])
async def test_a_notice_goes_out_with_the_notice_template(kind: str) -> None:
    with vendor(kind, secret="the-right-secret") as server:
        config = dataclasses.replace(
            _config(kind, server.url, "the-right-secret"), notice_template_id="NOTICE_1"
        )
        await open_sender(config, lambda: 0.0).send(NOTICE)
    assert server.refused == [] and len(server.received) == 1
    [params] = server.received
    if kind == "aliyun":
        assert params["TemplateCode"] == "NOTICE_1"
        assert json.loads(params["TemplateParam"]) == {"event": "password_changed"}
    else:
        assert params["TemplateId"] == "NOTICE_1"
        assert params["TemplateParamSet"] == ["password_changed"]


@pytest.mark.parametrize("kind", ["aliyun", "tencent"])
async def test_without_a_notice_template_nothing_is_sent(kind: str) -> None:
    with vendor(kind, secret="the-right-secret") as server:
        sender = open_sender(_config(kind, server.url, "the-right-secret"), lambda: 0.0)
        with pytest.raises(SmsFailed):
            await sender.send(NOTICE)
    assert server.received == []
