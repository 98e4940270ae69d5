"""Each SMS backend against a local server that checks its signature as documented (the
vendors' SDKs pointed at it through their endpoint setting)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gateway.identity.sms import SmsConfig, SmsFailed, SmsMessage, open_sender
from tests.gateway.sms_vendors import vendor

MESSAGE = SmsMessage("13912345678", "sign_in", "123456", "验证码 123456", {"code": "123456"})


def _config(kind: str, url: str, secret: str) -> SmsConfig:
    return SmsConfig(
        backend=kind,
        sign_name="一号通",
        template_id="SMS_154950909" if kind == "aliyun" else "1234567",
        access_key_id="LTAI-test-id",
        access_key_secret=secret,
        endpoint=url,
        app_id="1400006666",
        timeout=5,
    )


@pytest.mark.parametrize("kind", ["aliyun", "tencent"])
async def test_the_vendor_sdk_signs_as_documented(kind: str) -> None:
    with vendor(kind, secret="the-right-secret") as server:
        sender = open_sender(_config(kind, server.url, "the-right-secret"), lambda: 0.0)
        await sender.send(MESSAGE)
    assert server.refused == [] and len(server.received) == 1
    [params] = server.received
    if kind == "aliyun":
        assert params["PhoneNumbers"] == "13912345678"
        assert params["SignName"] == "一号通" and params["TemplateCode"] == "SMS_154950909"
        assert json.loads(params["TemplateParam"]) == {"code": "123456"}
        assert params.get("Action", "SendSms") == "SendSms"
    else:
        assert params["Action"] == "SendSms"
        assert params["PhoneNumberSet"] == ["+8613912345678"]
        assert params["SmsSdkAppId"] == "1400006666" and params["TemplateParamSet"] == ["123456"]


@pytest.mark.parametrize("kind", ["aliyun", "tencent"])
async def test_a_wrong_secret_is_refused_by_the_vendor_and_raises(kind: str) -> None:
    with vendor(kind, secret="the-right-secret") as server:
        sender = open_sender(_config(kind, server.url, "a-wrong-secret"), lambda: 0.0)
        with pytest.raises(SmsFailed) as failed:
            await sender.send(MESSAGE)
    assert server.received == [] and len(server.refused) >= 1
    assert "13912345678" not in failed.value.reason


async def test_the_webhook_is_signed_over_timestamp_and_body() -> None:
    seen: list[tuple[dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(202 if len(seen) == 1 else 500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/sms"
        sender = open_sender(
            SmsConfig(backend="http", http_url=url, http_secret="s3cret"), lambda: 1767225600.0
        )
        await sender.send(MESSAGE)
        with pytest.raises(SmsFailed):
            await sender.send(MESSAGE)  # a 500 is a failure
    finally:
        server.shutdown()
        server.server_close()
    headers, body = seen[0]
    assert headers["x-yihaotong-timestamp"] == "1767225600"
    expected = hmac.new(b"s3cret", b"1767225600." + body, hashlib.sha256).hexdigest()
    assert headers["x-yihaotong-signature"] == f"v1={expected}"
    assert json.loads(body) == {
        "phone": "13912345678", "template": "sign_in", "code": "123456", "text": "验证码 123456"
    }  # fmt: skip


async def test_the_log_sender_masks_the_log_and_fills_the_outbox(tmp_path: Path, caplog) -> None:
    caplog.set_level("INFO", logger="yihaotong.sms")
    sender = open_sender(SmsConfig(outbox=str(tmp_path / "sms-outbox.jsonl")), lambda: 0.0)
    await sender.send(MESSAGE)
    [line] = (tmp_path / "sms-outbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line) == {
        "time": "1970-01-01T00:00:00+00:00", "phone": "13912345678", "template": "sign_in",
        "code": "123456", "text": "验证码 123456",
    }  # fmt: skip
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "139****5678" in logged and "13912345678" not in logged and "123456" not in logged
