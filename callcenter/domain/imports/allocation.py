"""Applying payments to invoices.

Per debtor, payments in date order: first to the invoices the payment names (an explicit
invoice reference, or for the FEC the invoices lettered with it: same account and same
lettering code), then to the oldest open invoices by due date. What is left of a payment is
money the customer has on account: it stays on the payment (``unallocated_cents``) and is the
debtor's credit (``Debtor.credit_cents``), whether the payment paid something (an
over-payment) or found no invoice at all (``unmatched``, flagged for someone to look at: an
opening credit balance, an unlettered credit note). That credit goes to the debtor's next
invoices, oldest first, when they are imported (``apply_credit``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from callcenter.domain.audit import record_event
from callcenter.domain.imports.sources import FileRefused
from callcenter.domain.imports.values import MAX_CENTS
from callcenter.formatting import money
from callcenter.models import (
    Debtor,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)

_CHUNK = 500


def _fresh(statement):
    """Rows as in the database now: imports also write with plain SQL."""
    return statement.execution_options(populate_existing=True)


def _chunks(values: list, size: int = _CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def undo_allocations(session: Session, payment_ids: list[int], *, now: datetime) -> None:
    """Give back to invoices and debtors what these payments had been allocated (before a
    changed payment is allocated again)."""
    for chunk in _chunks(payment_ids):
        allocations = session.exec(
            select(PaymentAllocation).where(PaymentAllocation.payment_id.in_(chunk))
        ).all()
        by_invoice: dict[int, int] = defaultdict(int)
        for allocation in allocations:
            by_invoice[allocation.invoice_id] += allocation.amount_cents
        for invoice in session.exec(
            _fresh(select(Invoice).where(Invoice.id.in_(list(by_invoice))))
        ):
            invoice.open_amount_cents += by_invoice[invoice.id]
            if invoice.status == InvoiceStatus.PAID and invoice.open_amount_cents > 0:
                invoice.status = InvoiceStatus.OPEN
            invoice.updated_at = now
        for payment in session.exec(_fresh(select(Payment).where(Payment.id.in_(chunk)))):
            if payment.unallocated_cents:
                debtor = session.get(Debtor, payment.debtor_id)
                debtor.credit_cents = max(0, debtor.credit_cents - payment.unallocated_cents)
            payment.unallocated_cents = 0
            payment.unmatched = False
        session.execute(sa.delete(PaymentAllocation).where(PaymentAllocation.payment_id.in_(chunk)))
    session.flush()


def allocate_payments(
    session: Session,
    payment_ids: list[int],
    *,
    preferred: dict[int, list[int]] | None = None,
    now: datetime,
) -> dict[str, int]:
    """Allocate these (not yet allocated) payments; ``preferred`` maps a payment id to the
    invoice ids to pay first. Returns counts for the report."""
    preferred = preferred or {}
    stats = {
        "allocations": 0,
        "paid_invoices": 0,
        "credit_payments": 0,
        "unmatched": 0,
        "credit_cents": 0,
    }
    payments: list[Payment] = []
    for chunk in _chunks(payment_ids):
        payments.extend(session.exec(_fresh(select(Payment).where(Payment.id.in_(chunk)))).all())
    by_debtor: dict[int, list[Payment]] = defaultdict(list)
    for payment in payments:
        by_debtor[payment.debtor_id].append(payment)
    debtor_ids = sorted(by_debtor)
    for chunk in _chunks(debtor_ids):
        invoices = session.exec(
            _fresh(select(Invoice))
            .where(
                Invoice.debtor_id.in_(chunk),
                Invoice.status == InvoiceStatus.OPEN,
                Invoice.open_amount_cents > 0,
            )
            .order_by(Invoice.due_date, Invoice.issue_date, Invoice.number)
        ).all()
        open_by_debtor: dict[int, list[Invoice]] = defaultdict(list)
        for invoice in invoices:
            open_by_debtor[invoice.debtor_id].append(invoice)
        debtors = {
            d.id: d for d in session.exec(_fresh(select(Debtor).where(Debtor.id.in_(chunk))))
        }
        for debtor_id in chunk:
            _allocate_for_debtor(
                session,
                debtors[debtor_id],
                sorted(by_debtor[debtor_id], key=lambda p: (p.paid_on, p.reference)),
                open_by_debtor[debtor_id],
                preferred,
                stats,
                now,
            )
    session.flush()
    after_payments_applied(session, debtor_ids, now)
    return stats


def _allocate_for_debtor(
    session: Session,
    debtor: Debtor,
    payments: list[Payment],
    invoices: list[Invoice],
    preferred: dict[int, list[int]],
    stats: dict[str, int],
    now: datetime,
) -> None:
    by_id = {invoice.id: invoice for invoice in invoices}
    remaining = {payment.id: payment.amount_cents for payment in payments}
    allocated: dict[int, int] = defaultdict(int)

    def pay(payment: Payment, invoice: Invoice) -> None:
        amount = min(remaining[payment.id], invoice.open_amount_cents)
        if amount <= 0:
            return
        session.add(
            PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount_cents=amount)
        )
        stats["allocations"] += 1
        remaining[payment.id] -= amount
        allocated[payment.id] += amount
        invoice.open_amount_cents -= amount
        invoice.updated_at = now
        if invoice.open_amount_cents == 0:
            invoice.status = InvoiceStatus.PAID
            stats["paid_invoices"] += 1

    for payment in payments:
        for invoice_id in preferred.get(payment.id, ()):
            if invoice_id in by_id:
                pay(payment, by_id[invoice_id])
    for payment in payments:
        for invoice in invoices:
            if remaining[payment.id] == 0:
                break
            pay(payment, invoice)
    for payment in payments:
        left = remaining[payment.id]
        payment.unallocated_cents = left
        payment.unmatched = allocated[payment.id] == 0 and payment.amount_cents > 0
        if payment.unmatched:
            stats["unmatched"] += 1
        elif left:
            stats["credit_payments"] += 1
        if left:
            _add_credit(debtor, payment, left, now)
            stats["credit_cents"] += left


def release_overpaid(session: Session, debtor_ids: list[int], *, now: datetime) -> int:
    """Invoices of these debtors whose amount fell below what payments had paid them (a
    corrected invoice imported again): the excess goes back to the latest payments, as the
    debtor's credit, instead of being lost. Returns the cents released."""
    released = 0
    paid = sa.func.sum(PaymentAllocation.amount_cents)
    for chunk in _chunks(sorted(debtor_ids)):
        overpaid = session.exec(
            select(Invoice.id, Invoice.debtor_id, Invoice.amount_cents, paid)
            .join(PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
            .where(Invoice.debtor_id.in_(chunk))
            .group_by(Invoice.id, Invoice.debtor_id, Invoice.amount_cents)
            .having(paid > Invoice.amount_cents)
        ).all()
        for invoice_id, debtor_id, amount, total in overpaid:
            excess = int(total) - amount
            debtor = session.exec(_fresh(select(Debtor).where(Debtor.id == debtor_id))).one()
            allocations = session.exec(
                _fresh(select(PaymentAllocation, Payment))
                .join(Payment, Payment.id == PaymentAllocation.payment_id)
                .where(PaymentAllocation.invoice_id == invoice_id)
                .order_by(Payment.paid_on.desc(), Payment.reference.desc())
            ).all()
            for allocation, payment in allocations:
                if excess == 0:
                    break
                take = min(excess, allocation.amount_cents)
                _add_credit(debtor, payment, take, now)
                payment.unallocated_cents += take
                allocation.amount_cents -= take
                if allocation.amount_cents == 0:
                    session.delete(allocation)
                excess -= take
                released += take
    session.flush()
    return released


def _add_credit(debtor: Debtor, payment: Payment, cents: int, now: datetime) -> None:
    """``cents`` of ``payment`` become the debtor's credit, within the 32-bit money columns."""
    if debtor.credit_cents + cents > MAX_CENTS:
        raise FileRefused(
            f"Le crédit du débiteur « {debtor.account_code} » dépasserait "
            f"{money(MAX_CENTS)} avec le règlement « {payment.reference} » "
            f"({money(debtor.credit_cents + cents)}) : vérifiez les règlements de ce "
            "débiteur ; rien n'a été enregistré."
        )
    debtor.credit_cents += cents
    debtor.updated_at = now


def apply_credit(session: Session, debtor_ids: list[int], *, now: datetime) -> dict[str, int]:
    """Spend these debtors' credit (what their payments left unallocated, oldest payment
    first) on their open invoices, oldest due first. Returns counts for the report."""
    stats = {"allocations": 0, "paid_invoices": 0, "credit_cents": 0, "debtors": 0}
    for chunk in _chunks(sorted(debtor_ids)):
        debtors = session.exec(
            _fresh(select(Debtor).where(Debtor.id.in_(chunk), Debtor.credit_cents > 0))
        ).all()
        if not debtors:
            continue
        with_credit = [debtor.id for debtor in debtors]
        payments: dict[int, list[Payment]] = defaultdict(list)
        for payment in session.exec(
            _fresh(select(Payment))
            .where(Payment.debtor_id.in_(with_credit), Payment.unallocated_cents > 0)
            .order_by(Payment.paid_on, Payment.reference)
        ):
            payments[payment.debtor_id].append(payment)
        invoices: dict[int, list[Invoice]] = defaultdict(list)
        for invoice in session.exec(
            _fresh(select(Invoice))
            .where(
                Invoice.debtor_id.in_(with_credit),
                Invoice.status == InvoiceStatus.OPEN,
                Invoice.open_amount_cents > 0,
            )
            .order_by(Invoice.due_date, Invoice.issue_date, Invoice.number)
        ):
            invoices[invoice.debtor_id].append(invoice)
        for debtor in debtors:
            spent = _spend_credit(session, payments[debtor.id], invoices[debtor.id], stats, now)
            if spent:
                debtor.credit_cents = max(0, debtor.credit_cents - spent)
                debtor.updated_at = now
                stats["credit_cents"] += spent
                stats["debtors"] += 1
    session.flush()
    return stats


def _spend_credit(
    session: Session,
    payments: list[Payment],
    invoices: list[Invoice],
    stats: dict[str, int],
    now: datetime,
) -> int:
    spent = 0
    for payment in payments:
        for invoice in invoices:
            amount = min(payment.unallocated_cents, invoice.open_amount_cents)
            if amount <= 0:
                continue
            session.add(
                PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount_cents=amount)
            )
            stats["allocations"] += 1
            payment.unallocated_cents -= amount
            payment.unmatched = False
            invoice.open_amount_cents -= amount
            invoice.updated_at = now
            if invoice.open_amount_cents == 0:
                invoice.status = InvoiceStatus.PAID
                stats["paid_invoices"] += 1
            spent += amount
            if payment.unallocated_cents == 0:
                break
    return spent


def after_payments_applied(session: Session, debtor_ids: list[int], now: datetime) -> None:
    """Runs once payments have been allocated for these debtors.

    Today it records one ``payments.applied`` timeline event per debtor (open balance and
    credit after the import). This is where the follow-up of promises (kept / partial) and the
    refresh of the call queue will plug in later, so that a debtor who just paid leaves the
    queue in the same transaction.
    """
    for chunk in _chunks(sorted(debtor_ids)):
        balances = dict(
            session.exec(
                select(
                    Invoice.debtor_id, sa.func.coalesce(sa.func.sum(Invoice.open_amount_cents), 0)
                )
                .where(Invoice.debtor_id.in_(chunk), Invoice.status == InvoiceStatus.OPEN)
                .group_by(Invoice.debtor_id)
            ).all()
        )
        credits = dict(
            session.exec(select(Debtor.id, Debtor.credit_cents).where(Debtor.id.in_(chunk))).all()
        )
        for debtor_id in chunk:
            record_event(
                session,
                type="payments.applied",
                debtor_id=debtor_id,
                payload={
                    "open_cents": int(balances.get(debtor_id, 0)),
                    "credit_cents": int(credits.get(debtor_id, 0)),
                },
                at=now,
            )
    session.flush()
