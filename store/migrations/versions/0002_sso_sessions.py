"""single sign-on: refresh token families, consents, pairwise subjects, client logout options

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "client_id", name=op.f("pk_consents")),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=43), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("sid", sa.String(length=43), nullable=True),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acr", sa.String(length=64), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("access_jti", sa.String(length=43), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_refresh_tokens")),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_family_id"), ["family_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_refresh_tokens_sid"), ["sid"], unique=False)

    op.create_table(
        "subject_identifiers",
        sa.Column("sector", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("sector", "subject", name=op.f("pk_subject_identifiers")),
    )
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("frontchannel_logout_uri", sa.String(length=2000), nullable=True)
        )
        batch_op.add_column(
            sa.Column("subject_type", sa.String(length=16), nullable=False, server_default="public")
        )
        batch_op.add_column(sa.Column("sector_identifier", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("sector_identifier")
        batch_op.drop_column("subject_type")
        batch_op.drop_column("frontchannel_logout_uri")

    op.drop_table("subject_identifiers")
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_sid"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_family_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_account_id"))

    op.drop_table("refresh_tokens")
    op.drop_table("consents")
