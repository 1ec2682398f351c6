"""Promise and payment-plan follow-up: allocation rules and the kept / partial / broken life."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from callcenter.domain.promises import (
    Commitment,
    PromisePolicy,
    allocate_payments,
    debtors_with_open_commitments,
    refresh_commitments,
    validate_payment_plan,
    validate_promise,
)
from callcenter.models import Debtor, Event, Instalment, Payment, PaymentPlan, Promise, utcnow

TODAY = date(2026, 11, 23)
POLICY = PromisePolicy(horizon_days=30, grace_days=3, tolerance_cents=100)


def commitment(key, amount, agreed, due, grace=3, tolerance=100):
    return Commitment(("promise", key), amount, agreed, due, grace, tolerance)


def test_payments_fill_the_earliest_commitment_first_and_spill_over():
    first = commitment(1, 50_000, date(2026, 11, 1), date(2026, 11, 10))
    second = commitment(2, 30_000, date(2026, 11, 1), date(2026, 11, 20))
    allocate_payments([(7, date(2026, 11, 9), 60_000)], [second, first])
    assert (first.paid_cents, second.paid_cents) == (50_000, 10_000)


def test_a_payment_before_the_promise_was_made_does_not_count():
    promise = commitment(1, 50_000, date(2026, 11, 10), date(2026, 11, 15))
    allocate_payments([(1, date(2026, 11, 9), 50_000)], [promise])
    assert promise.paid_cents == 0


def test_a_payment_after_the_deadline_does_not_keep_the_promise():
    promise = commitment(1, 50_000, date(2026, 11, 1), date(2026, 11, 10), grace=3)
    allocate_payments([(1, date(2026, 11, 14), 50_000)], [promise])
    assert promise.paid_cents == 0
    allocate_payments([(2, date(2026, 11, 13), 50_000)], [promise])
    assert promise.paid_cents == 50_000


@pytest.mark.parametrize(
    ("paid", "today", "expected"),
    [
        (50_000, date(2026, 11, 5), "kept"),
        (49_900, date(2026, 11, 5), "kept"),
        (49_899, date(2026, 11, 13), "pending"),
        (49_899, date(2026, 11, 14), "partial"),
        (0, date(2026, 11, 13), "pending"),
        (0, date(2026, 11, 14), "broken"),
    ],
)
def test_status_by_amount_tolerance_and_grace(paid, today, expected):
    promise = commitment(1, 50_000, date(2026, 11, 1), date(2026, 11, 10), grace=3, tolerance=100)
    promise.paid_cents = paid
    assert promise.status_on(today) == expected


@pytest.mark.parametrize(
    ("amount", "promised", "errors"),
    [
        (10_000, TODAY + timedelta(days=5), {}),
        (None, TODAY, {"promise_amount": "Indiquez le montant promis."}),
        (0, TODAY, {"promise_amount": "Le montant promis doit être supérieur à zéro."}),
        (
            200_001,
            TODAY,
            {"promise_amount": "Le montant promis dépasse le solde dû (2\u202f000,00\xa0€)."},
        ),
        (
            100,
            TODAY - timedelta(days=1),
            {"promise_date": "La date promise ne peut pas être passée."},
        ),
        (
            100,
            TODAY + timedelta(days=31),
            {"promise_date": "La date promise doit tomber au plus tard le 23/12/2026 (30 jours)."},
        ),
        (100, None, {"promise_date": "Indiquez la date de paiement promise."}),
    ],
)
def test_promise_validation(amount, promised, errors):
    assert (
        validate_promise(
            amount_cents=amount,
            promised_date=promised,
            open_balance_cents=200_000,
            today=TODAY,
            policy=POLICY,
        )
        == errors
    )


def test_payment_plan_validation():
    good = [(date(2026, 12, 1), 30_000), (date(2027, 1, 1), 30_000), (date(2027, 2, 1), 40_000)]
    assert (
        validate_payment_plan(
            total_cents=100_000,
            instalments=good,
            open_balance_cents=100_000,
            today=TODAY,
            policy=POLICY,
        )
        == {}
    )
    wrong_sum = [(date(2026, 12, 1), 30_000), (date(2027, 1, 1), 30_000)]
    errors = validate_payment_plan(
        total_cents=100_000,
        instalments=wrong_sum,
        open_balance_cents=100_000,
        today=TODAY,
        policy=POLICY,
    )
    assert errors == {
        "plan_instalments": "La somme des échéances (600,00\xa0€) doit être égale au total "
        "(1\u202f000,00\xa0€)."
    }
    unordered = [(date(2027, 1, 1), 50_000), (date(2026, 12, 1), 50_000)]
    errors = validate_payment_plan(
        total_cents=100_000,
        instalments=unordered,
        open_balance_cents=100_000,
        today=TODAY,
        policy=POLICY,
    )
    assert "instalment_2" in errors
    assert validate_payment_plan(
        total_cents=100_000, instalments=[], open_balance_cents=100_000, today=TODAY, policy=POLICY
    ) == {"plan_instalments": "Ajoutez au moins une échéance."}


def _at(day_):
    return datetime(day_.year, day_.month, day_.day, 10, tzinfo=UTC)


@pytest.fixture
def debtor(session):
    debtor = Debtor(account_code="411C1", name="Durand SARL")
    session.add(debtor)
    session.flush()
    return debtor


def _pay(session, debtor, reference, paid_on, amount):
    session.add(
        Payment(debtor_id=debtor.id, reference=reference, paid_on=paid_on, amount_cents=amount)
    )
    session.flush()


def test_a_promise_becomes_kept_on_its_own_as_payments_arrive(session, debtor):
    promise = Promise(
        debtor_id=debtor.id,
        amount_cents=100_000,
        promised_date=date(2026, 11, 20),
        created_at=_at(date(2026, 11, 10)),
        tolerance_cents=100,
    )
    session.add(promise)
    session.flush()
    assert (
        refresh_commitments(
            session,
            debtor_ids=[debtor.id],
            today=date(2026, 11, 15),
            now=utcnow(),
        )
        == []
    )
    _pay(session, debtor, "VIR-1", date(2026, 11, 16), 60_000)
    refresh_commitments(
        session,
        debtor_ids=[debtor.id],
        today=date(2026, 11, 16),
        now=utcnow(),
    )
    assert (promise.status, promise.paid_cents) == ("pending", 60_000)
    _pay(session, debtor, "VIR-2", date(2026, 11, 18), 39_950)
    changes = refresh_commitments(
        session,
        debtor_ids=[debtor.id],
        today=date(2026, 11, 18),
        now=utcnow(),
    )
    assert [c.status for c in changes] == ["kept"]
    assert promise.resolved_at is not None
    again = refresh_commitments(
        session,
        debtor_ids=[debtor.id],
        today=date(2026, 11, 19),
        now=utcnow(),
    )
    assert again == []
    types = session.exec(select(Event.type).where(Event.debtor_id == debtor.id)).all()
    assert types == ["promise.kept"]


def test_a_promise_with_nothing_paid_breaks_after_the_grace_days(session, debtor):
    promise = Promise(
        debtor_id=debtor.id,
        amount_cents=50_000,
        promised_date=date(2026, 11, 10),
        grace_days=3,
        created_at=_at(date(2026, 11, 1)),
    )
    session.add(promise)
    session.flush()
    assert debtors_with_open_commitments(session) == [debtor.id]
    assert (
        refresh_commitments(
            session,
            debtor_ids=[debtor.id],
            today=date(2026, 11, 13),
            now=utcnow(),
        )
        == []
    )
    changes = refresh_commitments(
        session,
        debtor_ids=[debtor.id],
        today=date(2026, 11, 14),
        now=utcnow(),
    )
    assert [(c.kind, c.status) for c in changes] == [("promise", "broken")]
    assert debtors_with_open_commitments(session) == []


def test_a_payment_plan_is_followed_instalment_by_instalment(session, debtor):
    plan = PaymentPlan(debtor_id=debtor.id, total_cents=90_000, created_at=_at(date(2026, 11, 1)))
    session.add(plan)
    session.flush()
    dues = [date(2026, 11, 10), date(2026, 12, 10), date(2027, 1, 10)]
    rows = [
        Instalment(plan_id=plan.id, sequence=i, due_date=d, amount_cents=30_000)
        for i, d in enumerate(dues, start=1)
    ]
    session.add_all(rows)
    session.flush()
    _pay(session, debtor, "VIR-A", date(2026, 11, 9), 30_000)
    refresh_commitments(
        session,
        debtor_ids=[debtor.id],
        today=date(2026, 11, 20),
        now=utcnow(),
    )
    assert [r.status for r in rows] == ["kept", "pending", "pending"]
    assert plan.status == "pending"
    changes = refresh_commitments(
        session,
        debtor_ids=[debtor.id],
        today=date(2026, 12, 14),
        now=utcnow(),
    )
    assert [(c.kind, c.status) for c in changes] == [("instalment", "broken")]
    assert plan.status == "broken"
