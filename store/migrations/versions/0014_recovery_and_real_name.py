"""recovery codes of the authenticator app (digests, used once) and the evidence of real-name
checks that raised an account's level

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recovery_codes",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "digest", name=op.f("pk_recovery_codes")),
    )
    op.create_table(
        "real_name_checks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("backend", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("national_id_index", sa.String(length=64), nullable=False),
        sa.Column("national_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_real_name_checks")),
    )
    op.create_index(
        op.f("ix_real_name_checks_account_id"), "real_name_checks", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_real_name_checks_account_id"), table_name="real_name_checks")
    op.drop_table("real_name_checks")
    op.drop_table("recovery_codes")
