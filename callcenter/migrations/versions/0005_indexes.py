"""indexes for the wallboard and the aged balance

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 03:43:18.120743
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calls_day", ["created_at", "agent_id", "disposition_code", "id"], unique=False
        )

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invoices_open_aging",
            ["debtor_id", "due_date", "disputed", "open_amount_cents"],
            unique=False,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )

    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_emails_sent_at"), ["sent_at"], unique=False)

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_paid_on"), ["paid_on"], unique=False)

    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.create_index("ix_promises_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.drop_index("ix_promises_created_at")

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_paid_on"))

    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_emails_sent_at"))

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_invoices_open_aging",
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_day")
