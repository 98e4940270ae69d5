"""audit pseudonyms: the append-only audit log takes exactly one kind of change, replacing a
closed account's id by its pseudonym (and erasing the personal data in those entries' details)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFIX = "pseudonym:"
# An update keeps every column but these: actor and target may become a pseudonym (never stop
# being one), and details may change only in an entry that is given a pseudonym.
_SQLITE_ALLOWED = f"""
    NEW.id = OLD.id AND NEW.at IS OLD.at AND NEW.event IS OLD.event
    AND NEW.outcome IS OLD.outcome AND NEW.client_id IS OLD.client_id AND NEW.ip IS OLD.ip
    AND NEW.request_id IS OLD.request_id AND NEW."check" IS OLD."check"
    AND NEW.entry_id IS OLD.entry_id
    AND (NEW.actor IS OLD.actor
         OR (NEW.actor LIKE '{PREFIX}%' AND COALESCE(OLD.actor, '') NOT LIKE '{PREFIX}%'))
    AND (NEW.target IS OLD.target
         OR (NEW.target LIKE '{PREFIX}%' AND COALESCE(OLD.target, '') NOT LIKE '{PREFIX}%'))
    AND (NEW.details IS OLD.details OR NEW.actor IS NOT OLD.actor
         OR NEW.target IS NOT OLD.target)
"""
_POSTGRES_ALLOWED = (
    _SQLITE_ALLOWED.replace(" IS NOT ", " IS DISTINCT FROM ")
    .replace(" IS OLD.", " IS NOT DISTINCT FROM OLD.")
    .replace(
        "NEW.details IS NOT DISTINCT FROM OLD.details", "NEW.details::text = OLD.details::text"
    )
)
_SQLITE_UP = [
    "DROP TRIGGER audit_events_no_update",
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    f"WHEN NOT ({_SQLITE_ALLOWED}) "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
]
_SQLITE_DOWN = [
    "DROP TRIGGER audit_events_no_update",
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
]
_POSTGRES_UP = [
    "DROP TRIGGER audit_events_append_only ON audit_events",
    "CREATE TRIGGER audit_events_append_only BEFORE DELETE OR TRUNCATE "
    "ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
    "CREATE FUNCTION audit_events_pseudonyms_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN IF {_POSTGRES_ALLOWED} THEN RETURN NEW; END IF; "
    "RAISE EXCEPTION 'the audit log is append-only'; END $$",
    "CREATE TRIGGER audit_events_pseudonyms_only BEFORE UPDATE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_pseudonyms_only()",
]
_POSTGRES_DOWN = [
    "DROP TRIGGER audit_events_pseudonyms_only ON audit_events",
    "DROP FUNCTION audit_events_pseudonyms_only()",
    "DROP TRIGGER audit_events_append_only ON audit_events",
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
    "ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES_UP if postgres else _SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES_DOWN if postgres else _SQLITE_DOWN:
        op.execute(statement)
