"""phone sign-in: an account holds at most one verified phone (a partial unique index), and
the versions of the user agreement and privacy policy a person accepted are kept

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VERIFIED_PHONE = sa.text("type = 'phone' AND verified")


def upgrade() -> None:
    op.create_index(
        "uq_account_identifiers_one_phone",
        "account_identifiers",
        ["account_id"],
        unique=True,
        sqlite_where=_VERIFIED_PHONE,
        postgresql_where=_VERIFIED_PHONE,
    )
    op.create_table(
        "account_agreements",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("document", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "document", "version", name=op.f("pk_account_agreements")
        ),
    )


def downgrade() -> None:
    op.drop_table("account_agreements")
    op.drop_index("uq_account_identifiers_one_phone", table_name="account_identifiers")
