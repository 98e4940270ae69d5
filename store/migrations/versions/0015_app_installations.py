"""app installations: the city's own apps' refresh token families with a device name and the
DPoP key thumbprint, for the person's and the admins' device lists

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_installations",
        sa.Column("family_id", sa.String(length=43), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("device_name", sa.String(length=100), nullable=False),
        sa.Column("dpop_jkt", sa.String(length=64), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("family_id", name=op.f("pk_app_installations")),
    )
    op.create_index(
        op.f("ix_app_installations_account_id"), "app_installations", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_app_installations_account_id"), table_name="app_installations")
    op.drop_table("app_installations")
