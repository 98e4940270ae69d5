"""console indexes: accounts found by the start of a username or a name, and the audit log's
events counted over a time range (the console's searches and overview on a large city)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_accounts_username_prefix",
        "accounts",
        ["username"],
        postgresql_ops={"username": "varchar_pattern_ops"},
    )
    op.create_index(
        "ix_accounts_name_prefix",
        "accounts",
        ["name"],
        postgresql_ops={"name": "varchar_pattern_ops"},
    )
    op.create_index("ix_audit_events_event_at", "audit_events", ["event", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_event_at", table_name="audit_events")
    op.drop_index("ix_accounts_name_prefix", table_name="accounts")
    op.drop_index("ix_accounts_username_prefix", table_name="accounts")
