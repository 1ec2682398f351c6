"""Aged balance (balance âgée) and DSO (délai moyen de paiement clients).

Everything is computed by the database in one pass over the open invoices: one GROUP BY
with CASE buckets, never a loop over debtors in Python.

Buckets of the aged balance, by days late = ``as_of`` − due date:

* « Non échu » : not yet due (due today or later, days late ≤ 0);
* « 1 à 30 j », « 31 à 60 j », « 61 à 90 j », « Plus de 90 j ».

Disputed invoices are taken out of the buckets and shown in their own column « En litige ».
Paused invoices stay in their bucket (a pause changes the dunning, not the age of the debt).
Amounts are the open amounts (``open_amount_cents``) of invoices whose status is ``open``.
The debtor's credit (``credit_cents``: avoirs, unallocated payments) is shown apart and never
netted against the buckets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from callcenter.domain.errors import ValidationFailed
from callcenter.models import Debtor, Invoice, InvoiceStatus

BUCKETS: tuple[tuple[str, str], ...] = (
    ("not_due", "Non échu"),
    ("days_1_30", "1 à 30 j"),
    ("days_31_60", "31 à 60 j"),
    ("days_61_90", "61 à 90 j"),
    ("over_90", "Plus de 90 j"),
)
AMOUNT_COLUMNS: tuple[tuple[str, str], ...] = (
    *BUCKETS,
    ("disputed", "En litige"),
    ("total", "Total"),
)
DEFAULT_DSO_DAYS = 90
MAX_PAGE_SIZE = 500


class AgingOrder(StrEnum):
    TOTAL = "total"
    OVER_90 = "over_90"
    NAME = "name"


ORDER_LABELS = {
    AgingOrder.TOTAL: "Encours total décroissant",
    AgingOrder.OVER_90: "Plus de 90 j décroissant",
    AgingOrder.NAME: "Nom du débiteur",
}


@dataclass(frozen=True)
class AgingAmounts:
    """Open amounts in cents by bucket; ``total`` includes the disputed amount."""

    not_due: int = 0
    days_1_30: int = 0
    days_31_60: int = 0
    days_61_90: int = 0
    over_90: int = 0
    disputed: int = 0
    total: int = 0

    @property
    def overdue(self) -> int:
        return self.days_1_30 + self.days_31_60 + self.days_61_90 + self.over_90


@dataclass(frozen=True)
class AgingRow:
    debtor_id: int
    account_code: str
    name: str
    segment: str
    amounts: AgingAmounts
    credit_cents: int


@dataclass(frozen=True)
class AgingTotals:
    amounts: AgingAmounts
    credit_cents: int
    debtors: int


@dataclass(frozen=True)
class AgedBalance:
    as_of: date
    segment: str | None
    order: AgingOrder
    limit: int
    offset: int
    totals: AgingTotals
    rows: list[AgingRow]


@dataclass(frozen=True)
class DsoResult:
    """DSO = (encours clients / chiffre d'affaires TTC des N derniers jours) × N."""

    as_of: date
    days: int
    receivables_cents: int
    revenue_cents: int
    dso_days: Decimal | None


def bucket_name(due_date: date, as_of: date) -> str:
    """The bucket of one undisputed open amount, by days late = as_of − due date."""
    days_late = (as_of - due_date).days
    if days_late <= 0:
        return "not_due"
    if days_late <= 30:
        return "days_1_30"
    if days_late <= 60:
        return "days_31_60"
    if days_late <= 90:
        return "days_61_90"
    return "over_90"


def parse_order(value: str | None) -> AgingOrder:
    """The sort asked for; an unknown value is refused in French."""
    if not value:
        return AgingOrder.TOTAL
    try:
        return AgingOrder(value)
    except ValueError:
        raise ValidationFailed(
            {"order": f"Tri inconnu : « {value} ». Choisissez total, over_90 ou name."}
        ) from None


def _bucket_columns(as_of: date) -> dict[str, Any]:
    """CASE expressions that sort one invoice's open amount into its bucket.

    Boundaries are dates computed here, so the database compares plain dates (index-friendly,
    the same on SQLite and PostgreSQL): days late d = as_of − due_date.
    """
    amount = Invoice.open_amount_cents
    disputed = Invoice.disputed
    late_1 = as_of - timedelta(days=1)
    late_30 = as_of - timedelta(days=30)
    late_60 = as_of - timedelta(days=60)
    late_90 = as_of - timedelta(days=90)
    zero = sa.literal(0)

    def bucket(condition: Any) -> Any:
        return sa.case((disputed, zero), (condition, amount), else_=zero)

    due = Invoice.due_date
    return {
        "not_due": bucket(due >= as_of),
        "days_1_30": bucket(sa.and_(due <= late_1, due >= late_30)),
        "days_31_60": bucket(sa.and_(due < late_30, due >= late_60)),
        "days_61_90": bucket(sa.and_(due < late_60, due >= late_90)),
        "over_90": bucket(due < late_90),
        "disputed": sa.case((disputed, amount), else_=zero),
        "total": amount,
    }


def _open_invoices() -> Any:
    """Open invoices still owing something.

    The status is written into the SQL as a constant (not a bound parameter) so that a partial
    index ``WHERE status = 'open'`` is usable by SQLite and by PostgreSQL's generic plans.
    """
    is_open = Invoice.status == sa.literal(InvoiceStatus.OPEN.value, literal_execute=True)
    return sa.and_(is_open, Invoice.open_amount_cents != 0)


def _per_debtor(as_of: date) -> Any:
    """One row per debtor holding open invoices: the GROUP BY with CASE buckets."""
    columns = _bucket_columns(as_of)
    return (
        sa.select(
            Invoice.debtor_id.label("debtor_id"),
            *(sa.func.sum(expression).label(name) for name, expression in columns.items()),
        )
        .where(_open_invoices())
        .group_by(Invoice.debtor_id)
        .subquery("aging")
    )


def _rows_query(
    as_of: date, segment: str | None, order: AgingOrder, *, with_totals: bool = False
) -> Any:
    """Debtors with an open amount or a credit, aging columns filled with 0 where none.

    ``with_totals`` adds window sums over every listed row (before LIMIT), so one page and
    the totals of the whole list come from a single pass over the invoices.
    """
    aging = _per_debtor(as_of)
    amounts = {name: sa.func.coalesce(aging.c[name], 0) for name, _ in AMOUNT_COLUMNS}
    windows = []
    if with_totals:
        windows = [
            *(sa.func.sum(value).over().label(f"all_{name}") for name, value in amounts.items()),
            sa.func.sum(Debtor.credit_cents).over().label("all_credit_cents"),
            sa.func.count().over().label("all_debtors"),
        ]
    query = (
        sa.select(
            Debtor.id,
            Debtor.account_code,
            Debtor.name,
            Debtor.segment,
            Debtor.credit_cents,
            *(value.label(name) for name, value in amounts.items()),
            *windows,
        )
        .select_from(Debtor)
        .outerjoin(aging, aging.c.debtor_id == Debtor.id)
        .where(sa.or_(aging.c.debtor_id.is_not(None), Debtor.credit_cents != 0))
    )
    if segment:
        query = query.where(Debtor.segment == segment)
    by_name = (Debtor.name, Debtor.id)
    if order is AgingOrder.NAME:
        return query.order_by(*by_name)
    return query.order_by(amounts[order.value].desc(), *by_name)


def _row(record: Any) -> AgingRow:
    return AgingRow(
        debtor_id=record.id,
        account_code=record.account_code,
        name=record.name,
        segment=record.segment,
        amounts=AgingAmounts(**{name: int(record._mapping[name]) for name, _ in AMOUNT_COLUMNS}),
        credit_cents=int(record.credit_cents),
    )


def aging_totals(session: Session, *, as_of: date, segment: str | None = None) -> AgingTotals:
    """Totals of the aged balance (the table's last row), within ``segment`` if given.

    Used on its own when a page holds no row; otherwise the page query carries the totals.
    """
    columns = _bucket_columns(as_of)
    query = sa.select(
        *(sa.func.coalesce(sa.func.sum(expression), 0) for expression in columns.values()),
        sa.func.count(sa.distinct(Invoice.debtor_id)),
    ).where(_open_invoices())
    if segment:
        query = query.join(Debtor, Debtor.id == Invoice.debtor_id).where(Debtor.segment == segment)
    *sums, with_invoices = session.execute(query).one()

    has_open = sa.exists().where(Invoice.debtor_id == Debtor.id, _open_invoices())
    credits = sa.select(
        sa.func.coalesce(sa.func.sum(Debtor.credit_cents), 0),
        sa.func.count().filter(sa.not_(has_open)),
    ).where(Debtor.credit_cents != 0)
    if segment:
        credits = credits.where(Debtor.segment == segment)
    credit_cents, credit_only = session.execute(credits).one()
    return AgingTotals(
        amounts=AgingAmounts(*(int(value) for value in sums)),
        credit_cents=int(credit_cents),
        debtors=int(with_invoices) + int(credit_only),
    )


def aged_balance(
    session: Session,
    *,
    as_of: date,
    segment: str | None = None,
    order: AgingOrder | str = AgingOrder.TOTAL,
    limit: int = 50,
    offset: int = 0,
) -> AgedBalance:
    """The aged balance at ``as_of``: totals, and one page of debtors sorted by ``order``."""
    order = parse_order(order)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            {"limit": f"La taille de page doit être entre 1 et {MAX_PAGE_SIZE}."}
        )
    if offset < 0:
        raise ValidationFailed({"offset": "Le décalage de page ne peut pas être négatif."})
    segment = segment or None
    query = _rows_query(as_of, segment, order, with_totals=True).limit(limit).offset(offset)
    records = session.execute(query).all()
    if records:
        first = records[0]._mapping
        totals = AgingTotals(
            amounts=AgingAmounts(**{name: int(first[f"all_{name}"]) for name, _ in AMOUNT_COLUMNS}),
            credit_cents=int(first["all_credit_cents"]),
            debtors=int(first["all_debtors"]),
        )
    else:
        totals = aging_totals(session, as_of=as_of, segment=segment)
    return AgedBalance(
        as_of=as_of,
        segment=segment,
        order=order,
        limit=limit,
        offset=offset,
        totals=totals,
        rows=[_row(record) for record in records],
    )


def iter_aged_balance(
    session: Session,
    *,
    as_of: date,
    segment: str | None = None,
    order: AgingOrder | str = AgingOrder.TOTAL,
    batch_size: int = 1_000,
) -> Iterator[AgingRow]:
    """Every debtor row of the aged balance, fetched in batches (for exports of any size)."""
    query = _rows_query(as_of, segment or None, parse_order(order))
    result = session.execute(query, execution_options={"yield_per": batch_size})
    for record in result:
        yield _row(record)


class AgingTally:
    """Running totals of rows as they stream by, so an export never re-reads the invoices."""

    def __init__(self) -> None:
        self._sums = dict.fromkeys((name for name, _ in AMOUNT_COLUMNS), 0)
        self._credit = 0
        self._debtors = 0

    def add(self, row: AgingRow) -> AgingRow:
        for name in self._sums:
            self._sums[name] += getattr(row.amounts, name)
        self._credit += row.credit_cents
        self._debtors += 1
        return row

    def totals(self) -> AgingTotals:
        return AgingTotals(
            amounts=AgingAmounts(**self._sums), credit_cents=self._credit, debtors=self._debtors
        )


def segments(session: Session) -> list[str]:
    """The debtor segments in use, for the filter."""
    query = sa.select(Debtor.segment).distinct().order_by(Debtor.segment)
    return list(session.execute(query).scalars())


def dso(session: Session, *, as_of: date, days: int = DEFAULT_DSO_DAYS) -> DsoResult:
    """DSO by the simple (« méthode simple ») formula, over the last ``days`` days.

    DSO = (encours clients / chiffre d'affaires TTC des N derniers jours) × N, N = ``days``.

    * encours clients: open amounts of every open invoice issued on or before ``as_of``,
      disputed ones included (they are still owed); credits are not netted;
    * chiffre d'affaires TTC: gross amounts (``amount_cents``) of the invoices issued in the
      N days ending on ``as_of`` (as_of − N < issue date ≤ as_of), paid or open, cancelled
      invoices excluded.

    The simple method is the one French accountants and the Banque de France publish, it reads
    at a glance and costs one query; the count-back method is more exact under seasonal sales
    but much harder to explain to a supervisor. No revenue in the window: DSO is ``None``.
    """
    if days < 1:
        raise ValidationFailed({"days": "La période du DSO doit compter au moins un jour."})
    start = as_of - timedelta(days=days)
    issued = Invoice.issue_date <= as_of
    in_window = sa.and_(
        Invoice.issue_date > start, issued, Invoice.status != InvoiceStatus.CANCELLED
    )
    receivable = sa.and_(Invoice.status == InvoiceStatus.OPEN, issued)
    zero = sa.literal(0)
    receivables, revenue = session.execute(
        sa.select(
            sa.func.coalesce(
                sa.func.sum(sa.case((receivable, Invoice.open_amount_cents), else_=zero)), 0
            ),
            sa.func.coalesce(
                sa.func.sum(sa.case((in_window, Invoice.amount_cents), else_=zero)), 0
            ),
        ).where(sa.or_(receivable, in_window))
    ).one()
    receivables, revenue = int(receivables), int(revenue)
    value = None
    if revenue > 0:
        ratio = Decimal(receivables) * days / Decimal(revenue)
        value = ratio.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return DsoResult(
        as_of=as_of,
        days=days,
        receivables_cents=receivables,
        revenue_cents=revenue,
        dso_days=value,
    )
