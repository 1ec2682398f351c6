"""dunning process: each debtor's case (step reached, action done, next step due); per-step
attempts and the catch-up step of each ladder

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callcenter.models import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scenario_steps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("max_attempts", sa.Integer(), server_default="3", nullable=False)
        )
        batch_op.add_column(
            sa.Column("catch_up", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "dunning_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("step_offset_days", sa.Integer(), nullable=False),
        sa.Column("step_action", sa.String(length=40), nullable=False),
        sa.Column("step_label", sa.String(length=120), nullable=False),
        sa.Column("reached_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("action_note", sa.String(length=200), nullable=True),
        sa.Column("next_due_at", UTCDateTime(), nullable=True),
        sa.Column("hold_reason", sa.String(length=200), nullable=True),
        sa.Column("entered_by", sa.String(length=20), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("debtor_id"),
    )
    op.create_index("ix_dunning_cases_status", "dunning_cases", ["status"])


def downgrade() -> None:
    op.drop_index("ix_dunning_cases_status", table_name="dunning_cases")
    op.drop_table("dunning_cases")
    with op.batch_alter_table("scenario_steps", schema=None) as batch_op:
        batch_op.drop_column("catch_up")
        batch_op.drop_column("max_attempts")
