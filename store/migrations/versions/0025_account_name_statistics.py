"""account name statistics: a finer sample of accounts.name on PostgreSQL, so a search by the
start of a name inside a district is estimated near its true size and planned as one read of
the name index, not one per department

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE accounts ALTER COLUMN name SET STATISTICS 1000")
        op.execute("ANALYZE accounts")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE accounts ALTER COLUMN name SET STATISTICS -1")
