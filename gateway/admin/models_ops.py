"""The admin API's documents for operations on apps, accounts and login systems: an app's
lifecycle, a password reset, a login system's test."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.admin.models import Model


class ClientStateChange(Model):
    state: Literal["draft", "live", "suspended", "retired"] = Field(
        description="live: in service; suspended: out of service for a while (its refresh "
        "tokens stop working); retired: for good (final); draft: only before it was live."
    )


class PasswordResetQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    locale: Literal["zh-CN", "en"] = Field(
        "zh-CN", description="The language of the SMS (the account keeps none)."
    )


class PasswordResetOut(Model):
    sent_to: str = Field(description="The verified phone told to set a new password, masked.")
    notified: bool = Field(description="Whether the SMS sender accepted the message.")


class ProviderTestOut(Model):
    ok: bool
    reason: str | None = Field(None, description="Why the test failed (no stack trace).")
    checked: str = Field(description="What was tried, e.g. an LDAP bind or a discovery fetch.")
    found: str | None = Field(None, description="What the check found, when it worked.")


class ProviderStateChange(Model):
    disabled: bool = Field(
        description="A disabled login system is not offered on the sign-in page, and its "
        "callback and password check refuse."
    )
