"""role assignments name their department by foreign key: an assignment "everywhere" becomes
NULL instead of "", an assignment whose department is gone is removed (it was read as held
everywhere), and from now on the database refuses both an assignment to a missing department
and the deletion of a department that still has assignments

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVERYWHERE = sa.text("department_id IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("role_assignments") as batch:
        batch.alter_column("department_id", existing_type=sa.String(length=32), nullable=True)
    op.execute("UPDATE role_assignments SET department_id = NULL WHERE department_id = ''")
    op.execute(
        "DELETE FROM role_assignments WHERE department_id IS NOT NULL "
        "AND department_id NOT IN (SELECT id FROM departments)"
    )
    with op.batch_alter_table("role_assignments") as batch:
        batch.create_foreign_key(
            op.f("fk_role_assignments_department_id_departments"),
            "departments",
            ["department_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    op.create_index(
        op.f("ix_role_assignments_department_id"),
        "role_assignments",
        ["department_id"],
        unique=False,
    )
    op.create_index(
        "uq_role_assignments_everywhere",
        "role_assignments",
        ["role_id", "account_id"],
        unique=True,
        sqlite_where=_EVERYWHERE,
        postgresql_where=_EVERYWHERE,
    )


def downgrade() -> None:
    op.drop_index("uq_role_assignments_everywhere", table_name="role_assignments")
    op.drop_index(op.f("ix_role_assignments_department_id"), table_name="role_assignments")
    with op.batch_alter_table("role_assignments") as batch:
        batch.drop_constraint(
            op.f("fk_role_assignments_department_id_departments"), type_="foreignkey"
        )
    op.execute("UPDATE role_assignments SET department_id = '' WHERE department_id IS NULL")
    with op.batch_alter_table("role_assignments") as batch:
        batch.alter_column("department_id", existing_type=sa.String(length=32), nullable=False)
