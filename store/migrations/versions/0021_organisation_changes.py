"""PostgreSQL tells listening instances whose organisation facts changed (the roles, groups and
linked logins the authorization endpoint reads, store/organisation.py): a NOTIFY with the
account's id for each row of role_assignments, group_members and linked_identities written, and
"*" after a statement that changes departments, roles or an app's department, or a TRUNCATE.
SQLite has no such channel and gets nothing here.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channel name is store.account_changes.ORGANISATION_CHANNEL, copied (see 0008).
_FUNCTIONS = [
    """CREATE OR REPLACE FUNCTION yihaotong_organisation_changed() RETURNS trigger AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    PERFORM pg_notify('yihaotong_organisation', OLD.account_id);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM pg_notify('yihaotong_organisation', NEW.account_id);
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION yihaotong_organisation_reset() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('yihaotong_organisation', '*');
  RETURN NULL;
END;
$$ LANGUAGE plpgsql""",
]
_PER_ACCOUNT = ("role_assignments", "group_members", "linked_identities")
_EVERYBODY = {
    "departments": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "roles": "UPDATE OR DELETE OR TRUNCATE",
    "clients": "INSERT OR UPDATE OF department_id OR DELETE OR TRUNCATE",
}


def _triggers() -> list[tuple[str, str, str]]:
    made = []
    for table in _PER_ACCOUNT:
        made.append(
            (
                f"{table}_organisation_changed",
                table,
                f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION yihaotong_organisation_changed()",
            )
        )
        made.append(
            (
                f"{table}_organisation_truncated",
                table,
                f"AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION yihaotong_organisation_reset()",
            )
        )
    for table, events in _EVERYBODY.items():
        made.append(
            (
                f"{table}_organisation_reset",
                table,
                f"AFTER {events} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION yihaotong_organisation_reset()",
            )
        )
    return made


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in _FUNCTIONS:
        op.execute(statement)
    for name, _, definition in _triggers():
        op.execute(f"CREATE TRIGGER {name} {definition}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, _ in _triggers():
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS yihaotong_organisation_reset()")
    op.execute("DROP FUNCTION IF EXISTS yihaotong_organisation_changed()")
