"""Audit entries written in batches carry a stable id (a replay of the local spool skips those
already written), and revocations of access tokens and SSO sessions are kept durably beside the
expiring store, which may lose them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite's batch mode would copy the table and lose its triggers.
    op.add_column("audit_events", sa.Column("entry_id", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_audit_events_entry_id"), "audit_events", ["entry_id"], unique=True)
    op.create_table(
        "revocations",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", name=op.f("pk_revocations")),
    )
    op.create_index(op.f("ix_revocations_expires_at"), "revocations", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_revocations_expires_at"), table_name="revocations")
    op.drop_table("revocations")
    op.drop_index(op.f("ix_audit_events_entry_id"), table_name="audit_events")
    op.drop_column("audit_events", "entry_id")
