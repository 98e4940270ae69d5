"""The admin API's documents for department APIs as resources (RFC 8707)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from gateway.admin.models import Model, Name, ScopeToken


class ResourceCreate(Model):
    audience: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="The API's URI: the `resource` clients ask for and the `aud` of its tokens."
    )
    name: Name | None = Field(None, description="Shown to administrators (default: the URI).")
    scopes: list[ScopeToken] = Field(
        min_length=1, max_length=50, description="The scopes the API accepts."
    )
    access_token_format: Literal["jwt", "opaque"] = Field(
        "jwt", description="What its tokens are: jwt (RFC 9068) or opaque (introspection)."
    )
    allowed_clients: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="The clients that may ask for tokens to it (RFC 8707); no other may.",
    )
    exchange_clients: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="Clients that may exchange a person's access token for one to this API "
        "(RFC 8693; a city-wide decision).",
    )


class ResourceOut(Model):
    audience: str
    name: str
    scopes: list[str]
    access_token_format: str
    allowed_clients: list[str]
    exchange_clients: list[str]
    created_at: datetime
    updated_at: datetime


class ResourceList(Model):
    items: list[ResourceOut]


class ResourceRef(Model):
    audience: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        None, description="The resource's audience URI (required)."
    )
