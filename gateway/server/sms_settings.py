"""The settings of phone sign-in: the SMS backend, its credentials and templates, and the
agreements a person accepts on registering."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings


class SmsSettings(BaseSettings):
    sms_backend: Literal["log", "http", "aliyun", "tencent"] = Field(
        "log",
        description="How SMS codes are sent: `log` (development: the log and "
        "`DATA_DIR/sms-outbox.jsonl`), `http` (a signed webhook, docs/sms.md), `aliyun` "
        "(Alibaba Cloud Dysms) or `tencent` (Tencent Cloud SMS; both need the `sms` extra).",
    )
    sms_sign_name: str = Field(
        "一号通", description="The SMS signature (签名) registered with the vendor."
    )
    sms_template_id: str = Field(
        "",
        description="The vendor's template id (模板) of the sign-in code (its parameter: the code)",
    )
    sms_notice_template_id: str = Field(
        "",
        description="The vendor's template id of security notices (a password or phone "
        "changed; its parameter: what happened). Unset: `aliyun` and `tencent` send no notices.",
    )
    sms_http_url: str = Field("", description="`http` backend: the URL the signed POST goes to.")
    sms_http_secret: str = Field(
        "", description="`http` backend: the shared secret of the HMAC-SHA256 signature."
    )
    sms_access_key_id: str = Field(
        "", description="`aliyun`: the AccessKey ID; `tencent`: the SecretId."
    )
    sms_access_key_secret: str = Field(
        "", description="`aliyun`: the AccessKey secret; `tencent`: the SecretKey."
    )
    sms_endpoint: str = Field(
        "",
        description="The vendor API host, when not the default (`dysmsapi.aliyuncs.com`, "
        "`sms.tencentcloudapi.com`).",
    )
    sms_region: str = Field("ap-guangzhou", description="`tencent`: the API region.")
    sms_app_id: str = Field("", description="`tencent`: the SmsSdkAppId.")
    terms_version: str = Field("2026-01", description="The version of the 用户协议 people accept.")
    terms_url: str = Field("/static/terms.html", description="Where the 用户协议 is read.")
    privacy_version: str = Field(
        "2026-01", description="The version of the 隐私政策 people accept."
    )
    privacy_url: str = Field("/static/privacy.html", description="Where the 隐私政策 is read.")
    sms_challenge_bits: int = Field(
        16,
        ge=0,
        le=28,
        description="Proof-of-work asked after repeated SMS sends, leading zero bits.",
    )
    sms_challenge_wait_seconds: int = Field(
        20,
        ge=0,
        le=300,
        description="Without JavaScript the proof-of-work is replaced by this wait, seconds.",
    )
