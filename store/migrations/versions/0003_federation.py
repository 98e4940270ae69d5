"""federation: account kinds and assurance, encrypted identifiers, linked department logins

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_identifiers",
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("blind_index", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("type", "blind_index", name=op.f("pk_account_identifiers")),
    )
    with op.batch_alter_table("account_identifiers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_identifiers_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "linked_identities",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("first_login_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attributes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("provider_id", "subject", name=op.f("pk_linked_identities")),
    )
    with op.batch_alter_table("linked_identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_linked_identities_account_id"), ["account_id"], unique=False
        )

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="person", nullable=False)
        )
        batch_op.add_column(
            sa.Column("assurance", sa.String(length=4), server_default="L1", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("assurance")
        batch_op.drop_column("kind")

    with op.batch_alter_table("linked_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_linked_identities_account_id"))

    op.drop_table("linked_identities")
    with op.batch_alter_table("account_identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_identifiers_account_id"))

    op.drop_table("account_identifiers")
