"""The brief's payment history: payments received (date, amount, reference, invoices settled)
and invoices paid (how late), so the agent can quote « votre virement du … »."""

from __future__ import annotations

from datetime import timedelta

from callcenter.domain.brief import build_brief
from callcenter.models import InvoiceStatus, Payment, PaymentAllocation
from tests.domain.queue_helpers import NOW, TODAY
from tests.factories import make_debtor, make_invoice


def test_the_brief_lists_payments_received_and_invoices_paid(session, settings):
    debtor = make_debtor(session)
    other = make_debtor(session, account_code="C-OTHER")
    early = make_invoice(
        session,
        debtor,
        number="FA-1",
        due_date=TODAY - timedelta(days=60),
        amount_cents=40_000,
        open_amount_cents=0,
        status=InvoiceStatus.PAID,
    )
    late = make_invoice(
        session,
        debtor,
        number="FA-2",
        due_date=TODAY - timedelta(days=50),
        amount_cents=25_000,
        open_amount_cents=0,
        status=InvoiceStatus.PAID,
    )
    make_invoice(session, debtor, number="FA-3", due_date=TODAY - timedelta(days=10))
    first = Payment(
        debtor_id=debtor.id,
        reference="VIR-1",
        paid_on=TODAY - timedelta(days=62),
        amount_cents=40_000,
    )
    second = Payment(
        debtor_id=debtor.id,
        reference="VIR-2",
        paid_on=TODAY - timedelta(days=38),
        amount_cents=25_000,
    )
    stranger = Payment(
        debtor_id=other.id, reference="VIR-X", paid_on=TODAY - timedelta(days=1), amount_cents=9_900
    )
    session.add_all([first, second, stranger])
    session.flush()
    session.add_all(
        [
            PaymentAllocation(payment_id=first.id, invoice_id=early.id, amount_cents=40_000),
            PaymentAllocation(payment_id=second.id, invoice_id=late.id, amount_cents=25_000),
        ]
    )
    session.flush()
    brief = build_brief(session, debtor_id=debtor.id, today=TODAY, now=NOW, settings=settings)
    assert [(p.reference, p.amount_cents, p.invoices) for p in brief.payments] == [
        ("VIR-2", 25_000, ["FA-2"]),
        ("VIR-1", 40_000, ["FA-1"]),
    ]
    assert [(i.number, i.days_late) for i in brief.paid_invoices] == [("FA-2", 12), ("FA-1", -2)]
    assert brief.risk.average_days_late == 5
