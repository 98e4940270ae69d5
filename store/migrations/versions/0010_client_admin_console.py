"""Apps designated for administration: the admin API accepts tokens only from them. Apps that
already held admin scopes and belong to no department were registered city-wide (a district
administrator must name a department of its own), so they stay usable as admin consoles.

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A migration keeps its own copy of what it reads, so later code changes cannot rewrite history.
_ADMIN_SCOPES = {"admin:read", "admin:write"}


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("admin_console", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    clients = sa.table(
        "clients",
        sa.column("client_id", sa.String),
        sa.column("scopes", sa.JSON),
        sa.column("department_id", sa.String),
        sa.column("admin_console", sa.Boolean),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(clients.c.client_id, clients.c.scopes).where(clients.c.department_id.is_(None))
    )
    consoles = [client_id for client_id, scopes in rows if _ADMIN_SCOPES & set(scopes or [])]
    if consoles:
        connection.execute(
            clients.update()
            .where(clients.c.client_id.in_(consoles))
            .values(admin_console=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("admin_console")
