"""The admin API's models of the organisation: departments, groups and their members, roles
and assignments."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from gateway.admin.models import (
    DepartmentId,
    GroupId,
    Id,
    Model,
    Name,
    Page,
    PageQuery,
    RoleName,
)


class DepartmentOut(Model):
    id: str
    name: str
    parent_id: str | None
    path: str
    version: int
    created_at: datetime
    updated_at: datetime


class DepartmentPage(Page):
    items: list[DepartmentOut]


class DepartmentQuery(PageQuery):
    under: str | None = Field(
        None, max_length=1000, description="A department path: that subtree only."
    )
    parent_id: str | None = Field(
        None, max_length=32, description="A department id: its children only (one level)."
    )
    name: str | None = Field(None, max_length=200, description="Names containing this.")


class DepartmentCreate(Model):
    id: DepartmentId
    name: Name
    parent_id: DepartmentId | None = None


class DepartmentPatch(Model):
    name: Name | None = None
    parent_id: DepartmentId | None = Field(
        None, description="Present: move below this department (null: make it a root)."
    )


class GroupOut(Model):
    id: str
    name: str
    department_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class GroupPage(Page):
    items: list[GroupOut]


class GroupQuery(PageQuery):
    department_id: str | None = Field(None, max_length=32)


class GroupCreate(Model):
    id: GroupId
    name: Name
    department_id: DepartmentId | None = None


class GroupPatch(Model):
    name: Name | None = None
    department_id: DepartmentId | None = None


class MemberOut(Model):
    account_id: str
    added_at: datetime


class MemberPage(Page):
    items: list[MemberOut]


class RoleOut(Model):
    id: str
    client_id: str | None = Field(description="The app defining it; null for a global role.")
    name: str
    description: str
    version: int
    created_at: datetime
    updated_at: datetime


class RolePage(Page):
    items: list[RoleOut]


class RoleQuery(PageQuery):
    client_id: str | None = Field(None, max_length=64, description="An app's roles only.")
    scope: Literal["all", "global", "client"] = "all"
    name: str | None = Field(None, max_length=64)


class RoleCreate(Model):
    name: RoleName
    description: str = Field("", max_length=500)
    client_id: Id | None = Field(None, description="Define it for this app (null: global).")


class RolePatch(Model):
    name: RoleName | None = None
    description: str | None = Field(None, max_length=500)


class AssignmentOut(Model):
    id: str
    role_id: str
    account_id: str
    department_id: str | None = Field(description="The subtree it holds in; null: everywhere.")
    granted_by: str
    created_at: datetime
    expires_at: datetime | None


class AssignmentPage(Page):
    items: list[AssignmentOut]


class AssignmentQuery(PageQuery):
    account_id: str | None = Field(None, max_length=64)
    role_id: str | None = Field(None, max_length=64)
    department_id: str | None = Field(None, max_length=32)
    client_id: str | None = Field(None, max_length=64)


class AssignmentCreate(Model):
    account_id: Id
    role_id: Id
    department_id: DepartmentId | None = Field(None, description="null: the whole city.")
    expires_at: AwareDatetime | None = None
