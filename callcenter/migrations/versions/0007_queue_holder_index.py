"""index of the held queue rows by agent

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HELD_STATE = sa.text("state = 'claimed'")


def upgrade() -> None:
    op.create_index(
        "ix_queue_items_holder",
        "queue_items",
        ["claimed_by_id"],
        sqlite_where=HELD_STATE,
        postgresql_where=HELD_STATE,
    )


def downgrade() -> None:
    op.drop_index("ix_queue_items_holder", table_name="queue_items")
