"""money columns in 64-bit integers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 08:00:00

A 32-bit integer column stops at 21 474 836,47 €: PostgreSQL refused a larger invoice with an
error. SQLite's INTEGER is already 64-bit: nothing changes there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY_COLUMNS = {
    "debtors": ("credit_cents",),
    "invoices": ("amount_cents", "open_amount_cents"),
    "payments": ("amount_cents", "unallocated_cents"),
    "payment_allocations": ("amount_cents",),
    "promises": ("amount_cents", "tolerance_cents", "paid_cents"),
    "payment_plans": ("total_cents",),
    "instalments": ("amount_cents", "paid_cents"),
}


def _retype(to_type: sa.types.TypeEngine, from_type: sa.types.TypeEngine) -> None:
    """PostgreSQL only: SQLite would rebuild every table for a type it stores the same way."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in MONEY_COLUMNS.items():
        for column in columns:
            op.alter_column(
                table, column, type_=to_type, existing_type=from_type, existing_nullable=False
            )


def upgrade() -> None:
    _retype(sa.BigInteger(), sa.Integer())


def downgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())
