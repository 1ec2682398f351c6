"""speech: live partial results of Media Streams, one row per call and track

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import callcenter.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_partials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("track", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("partial", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("heard", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_at", callcenter.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_id", "track"),
    )
    with op.batch_alter_table("live_partials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_live_partials_call_id"), ["call_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("live_partials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_partials_call_id"))

    op.drop_table("live_partials")
