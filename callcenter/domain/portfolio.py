"""Headline figures of the receivables portfolio."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, select

from callcenter.models import Debtor, Invoice, InvoiceStatus


@dataclass(frozen=True)
class PortfolioSummary:
    debtors: int
    open_invoices: int
    open_cents: int
    overdue_invoices: int
    overdue_cents: int
    disputed_cents: int


def portfolio_summary(session: Session, *, today: date) -> PortfolioSummary:
    """Open and overdue amounts; disputed amounts are counted apart, never as overdue."""
    is_open = Invoice.status == InvoiceStatus.OPEN
    overdue = sa.and_(is_open, Invoice.due_date < today, sa.not_(Invoice.disputed))
    disputed = sa.and_(is_open, Invoice.disputed)

    def open_amount_where(condition):
        total = sa.func.sum(sa.case((condition, Invoice.open_amount_cents), else_=sa.literal(0)))
        return sa.func.coalesce(total, 0)

    row = session.exec(
        select(
            sa.func.count().filter(is_open),
            open_amount_where(is_open),
            sa.func.count().filter(overdue),
            open_amount_where(overdue),
            open_amount_where(disputed),
        )
    ).one()
    debtors = session.exec(select(sa.func.count()).select_from(Debtor)).one()
    return PortfolioSummary(
        debtors=debtors,
        open_invoices=row[0],
        open_cents=int(row[1]),
        overdue_invoices=row[2],
        overdue_cents=int(row[3]),
        disputed_cents=int(row[4]),
    )
