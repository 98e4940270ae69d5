"""Per-client access token format (RFC 9068 JWT, the default, or an opaque reference), and
resource servers: clients that may introspect the access tokens of other clients

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "access_token_format", sa.String(length=8), nullable=False, server_default="jwt"
            )
        )
        batch_op.add_column(
            sa.Column("resource_server", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("resource_server")
        batch_op.drop_column("access_token_format")
