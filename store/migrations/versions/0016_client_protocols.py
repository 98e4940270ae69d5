"""apps of other protocols than OpenID Connect: the protocol an app speaks, and for CAS its
service URLs and whether it may proxy or validate with CAS 1.0

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("protocol", sa.String(length=8), nullable=False, server_default="oidc")
        )
        batch_op.add_column(
            sa.Column("service_urls", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("cas_proxy", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("cas_v1", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("cas_v1")
        batch_op.drop_column("cas_proxy")
        batch_op.drop_column("service_urls")
        batch_op.drop_column("protocol")
