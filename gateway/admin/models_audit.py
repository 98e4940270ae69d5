"""The audit log as the admin API reads it: one entry, a page, and the filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway.admin.models import MAX_LIMIT, Model


class AuditOut(Model):
    id: int
    at: datetime
    event: str
    outcome: str
    actor: str | None
    target: str | None
    client_id: str | None
    ip: str | None
    request_id: str | None
    check: str | None
    details: dict[str, Any]


class AuditPage(Model):
    items: list[AuditOut]
    total: int
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event: str | None = Field(None, max_length=64, description="`admin.*` for a family.")
    actor: str | None = Field(None, max_length=128)
    target: str | None = Field(None, max_length=128)
    client_id: str | None = Field(None, max_length=64, description="The app it concerns.")
    outcome: Literal["success", "failure", "denied"] | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    after: int = Field(0, ge=0, le=2**62, description="The cursor: events after this id.")
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
