"""Aged balance and DSO on a small, hand-checked portfolio."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import count

import pytest

from callcenter.domain.aging import (
    AgingAmounts,
    AgingOrder,
    aged_balance,
    dso,
    iter_aged_balance,
    segments,
)
from callcenter.domain.errors import ValidationFailed
from callcenter.models import Debtor, Invoice, InvoiceStatus

AS_OF = date(2026, 6, 15)
_numbers = count(1)


def add_debtor(session, name: str, *, segment: str = "standard", credit_cents: int = 0) -> Debtor:
    debtor = Debtor(
        account_code=f"C{next(_numbers):05d}", name=name, segment=segment, credit_cents=credit_cents
    )
    session.add(debtor)
    session.flush()
    return debtor


def add_invoice(
    session,
    debtor: Debtor,
    *,
    days_late: int,
    open_cents: int,
    amount_cents: int | None = None,
    status: str = InvoiceStatus.OPEN,
    disputed: bool = False,
    paused: bool = False,
    issued_days_ago: int | None = None,
) -> Invoice:
    """An invoice due ``days_late`` days before AS_OF (negative: due later)."""
    due = AS_OF - timedelta(days=days_late)
    if issued_days_ago is None:
        issue = due - timedelta(days=30)
    else:
        issue = AS_OF - timedelta(days=issued_days_ago)
    invoice = Invoice(
        debtor_id=debtor.id,
        number=f"FA-TEST-{next(_numbers):06d}",
        issue_date=issue,
        due_date=due,
        amount_cents=open_cents if amount_cents is None else amount_cents,
        open_amount_cents=open_cents,
        status=status,
        disputed=disputed,
        paused_until=AS_OF + timedelta(days=20) if paused else None,
        pause_reason="Attente bon de commande" if paused else None,
    )
    session.add(invoice)
    return invoice


def build_portfolio(session) -> dict[str, Debtor]:
    """Three listed debtors (A, B, C) and one with nothing owed (D)."""
    alpha = add_debtor(session, "Alpha Transports")
    for days_late, cents in [
        (0, 10_000),  # due today: not due
        (-10, 5_000),  # due in 10 days: not due
        (1, 20_000),
        (30, 30_000),
        (31, 40_000),
        (60, 50_000),
        (61, 60_000),
        (90, 70_000),
        (91, 80_000),
    ]:
        add_invoice(session, alpha, days_late=days_late, open_cents=cents)

    beta = add_debtor(session, "Bêta Bâtiment", segment="key_account", credit_cents=12_345)
    add_invoice(session, beta, days_late=45, open_cents=25_000, disputed=True)
    add_invoice(
        session, beta, days_late=100, open_cents=0, amount_cents=99_999, status=InvoiceStatus.PAID
    )
    add_invoice(session, beta, days_late=75, open_cents=35_050, amount_cents=100_000)
    add_invoice(session, beta, days_late=95, open_cents=15_000, paused=True)
    add_invoice(session, beta, days_late=20, open_cents=7_777, status=InvoiceStatus.CANCELLED)

    gamma = add_debtor(session, "Gamma Conseil", segment="small", credit_cents=5_000)
    delta = add_debtor(session, "Delta Imprimerie", segment="small")
    add_invoice(
        session, delta, days_late=40, open_cents=0, amount_cents=50_000, status=InvoiceStatus.PAID
    )
    session.commit()
    return {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta}


ALPHA = AgingAmounts(
    not_due=15_000,
    days_1_30=50_000,
    days_31_60=90_000,
    days_61_90=130_000,
    over_90=80_000,
    disputed=0,
    total=365_000,
)
BETA = AgingAmounts(
    not_due=0,
    days_1_30=0,
    days_31_60=0,
    days_61_90=35_050,
    over_90=15_000,
    disputed=25_000,
    total=75_050,
)
GAMMA = AgingAmounts()
TOTALS = AgingAmounts(
    not_due=15_000,
    days_1_30=50_000,
    days_31_60=90_000,
    days_61_90=165_050,
    over_90=95_000,
    disputed=25_000,
    total=440_050,
)


def test_buckets_per_debtor_and_totals_are_exact_to_the_cent(session):
    debtors = build_portfolio(session)
    balance = aged_balance(session, as_of=AS_OF, limit=50, offset=0)

    assert [row.name for row in balance.rows] == [
        "Alpha Transports",
        "Bêta Bâtiment",
        "Gamma Conseil",
    ]
    by_name = {row.name: row for row in balance.rows}
    assert by_name["Alpha Transports"].amounts == ALPHA
    assert by_name["Alpha Transports"].credit_cents == 0
    assert by_name["Bêta Bâtiment"].amounts == BETA
    assert by_name["Bêta Bâtiment"].credit_cents == 12_345
    assert by_name["Bêta Bâtiment"].debtor_id == debtors["beta"].id
    assert by_name["Bêta Bâtiment"].segment == "key_account"
    assert by_name["Gamma Conseil"].amounts == GAMMA
    assert by_name["Gamma Conseil"].credit_cents == 5_000

    assert balance.totals.amounts == TOTALS
    assert balance.totals.credit_cents == 17_345
    assert balance.totals.debtors == 3
    assert balance.totals.amounts.overdue == 50_000 + 90_000 + 165_050 + 95_000


def test_bucket_boundaries_one_invoice_at_a_time(session):
    debtor = add_debtor(session, "Bornes SARL")
    session.commit()
    expected_bucket = {
        0: "not_due",
        1: "days_1_30",
        30: "days_1_30",
        31: "days_31_60",
        60: "days_31_60",
        61: "days_61_90",
        90: "days_61_90",
        91: "over_90",
    }
    for days_late, bucket in expected_bucket.items():
        invoice = add_invoice(session, debtor, days_late=days_late, open_cents=1_234)
        session.commit()
        amounts = aged_balance(session, as_of=AS_OF, limit=10).rows[0].amounts
        assert getattr(amounts, bucket) == 1_234, (days_late, amounts)
        assert amounts.total == 1_234
        session.delete(invoice)
        session.commit()


def test_sort_orders_and_pagination(session):
    build_portfolio(session)
    by_over_90 = aged_balance(session, as_of=AS_OF, order="over_90", limit=10)
    assert [row.amounts.over_90 for row in by_over_90.rows] == [80_000, 15_000, 0]
    by_name = aged_balance(session, as_of=AS_OF, order=AgingOrder.NAME, limit=10)
    assert [row.name for row in by_name.rows] == [
        "Alpha Transports",
        "Bêta Bâtiment",
        "Gamma Conseil",
    ]
    second = aged_balance(session, as_of=AS_OF, limit=1, offset=1)
    assert [row.name for row in second.rows] == ["Bêta Bâtiment"]
    assert second.totals.amounts == TOTALS
    beyond = aged_balance(session, as_of=AS_OF, limit=10, offset=10)
    assert beyond.rows == []
    assert beyond.totals == second.totals
    assert beyond.totals.debtors == 3


def test_segment_filter_applies_to_rows_and_totals(session):
    build_portfolio(session)
    key_accounts = aged_balance(session, as_of=AS_OF, segment="key_account", limit=10)
    assert [row.name for row in key_accounts.rows] == ["Bêta Bâtiment"]
    assert key_accounts.totals.amounts == BETA
    assert key_accounts.totals.credit_cents == 12_345
    assert key_accounts.totals.debtors == 1

    small = aged_balance(session, as_of=AS_OF, segment="small", limit=10)
    assert [row.name for row in small.rows] == ["Gamma Conseil"]
    assert small.totals.amounts == GAMMA
    assert small.totals.credit_cents == 5_000
    assert small.totals.debtors == 1
    assert segments(session) == ["key_account", "small", "standard"]


def test_full_iteration_matches_the_page(session):
    build_portfolio(session)
    rows = list(iter_aged_balance(session, as_of=AS_OF, batch_size=2))
    assert rows == aged_balance(session, as_of=AS_OF, limit=10).rows


def test_empty_portfolio_gives_zero_totals(session):
    balance = aged_balance(session, as_of=AS_OF, limit=10)
    assert balance.rows == []
    assert balance.totals.amounts == AgingAmounts()
    assert balance.totals.credit_cents == 0
    assert balance.totals.debtors == 0


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({"order": "montant"}, "order"), ({"limit": 0}, "limit"), ({"offset": -1}, "offset")],
)
def test_bad_parameters_are_refused_in_french(session, arguments, field):
    with pytest.raises(ValidationFailed) as failed:
        aged_balance(session, as_of=AS_OF, **{"limit": 10, **arguments})
    assert field in failed.value.errors


def test_dso_simple_method_hand_computed(session):
    debtor = add_debtor(session, "Chiffre SAS")

    def invoice(issued_days_ago, amount, open_cents, status=InvoiceStatus.OPEN):
        add_invoice(
            session,
            debtor,
            days_late=issued_days_ago - 30,
            open_cents=open_cents,
            amount_cents=amount,
            status=status,
            issued_days_ago=issued_days_ago,
        )

    invoice(10, 300_000, 300_000)  # in every window, fully open
    invoice(30, 200_000, 0, InvoiceStatus.PAID)  # in the 90-day window only (boundary of 30)
    invoice(89, 600_000, 0, InvoiceStatus.PAID)  # in the 90-day window, paid
    invoice(90, 100_000, 100_000)  # issued exactly 90 days ago: out of the window, still owed
    invoice(5, 50_000, 50_000, InvoiceStatus.CANCELLED)  # cancelled: neither
    invoice(-1, 20_000, 20_000)  # issued after as_of: neither
    session.commit()

    result = dso(session, as_of=AS_OF)
    assert result.days == 90
    assert result.receivables_cents == 400_000
    assert result.revenue_cents == 1_100_000
    assert result.dso_days == Decimal("32.7")  # 400 000 / 1 100 000 × 90 = 32,727…

    month = dso(session, as_of=AS_OF, days=30)
    assert month.revenue_cents == 300_000
    assert month.dso_days == Decimal("40.0")  # 400 000 / 300 000 × 30


def test_dso_without_revenue_is_not_computable(session):
    result = dso(session, as_of=AS_OF)
    assert result.dso_days is None
    assert result.receivables_cents == 0
    with pytest.raises(ValidationFailed):
        dso(session, as_of=AS_OF, days=0)
