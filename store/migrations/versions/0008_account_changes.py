"""PostgreSQL tells listening instances which accounts changed (store/account_changes.py): a
NOTIFY with the account's id after each UPDATE or DELETE, and "*" after a TRUNCATE. SQLite has
no such channel and gets nothing here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channel name is store.account_changes.CHANNEL; a migration keeps its own copy of what it
# writes, so that later code changes cannot rewrite history.
_FUNCTIONS = [
    """CREATE OR REPLACE FUNCTION yihaotong_account_changed() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('yihaotong_accounts', OLD.id);
  RETURN NULL;
END;
$$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION yihaotong_accounts_truncated() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('yihaotong_accounts', '*');
  RETURN NULL;
END;
$$ LANGUAGE plpgsql""",
]
_TRIGGERS = [
    "CREATE TRIGGER accounts_changed AFTER UPDATE OR DELETE ON accounts "
    "FOR EACH ROW EXECUTE FUNCTION yihaotong_account_changed()",
    "CREATE TRIGGER accounts_truncated AFTER TRUNCATE ON accounts "
    "FOR EACH STATEMENT EXECUTE FUNCTION yihaotong_accounts_truncated()",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in [*_FUNCTIONS, *_TRIGGERS]:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS accounts_truncated ON accounts")
    op.execute("DROP TRIGGER IF EXISTS accounts_changed ON accounts")
    op.execute("DROP FUNCTION IF EXISTS yihaotong_accounts_truncated()")
    op.execute("DROP FUNCTION IF EXISTS yihaotong_account_changed()")
