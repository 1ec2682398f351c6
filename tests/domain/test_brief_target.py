"""The brief's target amount: the debtor's credit (money already on account) reduces it."""

from __future__ import annotations

from datetime import timedelta

from callcenter.domain.brief import build_brief, target_amount
from tests.domain.queue_helpers import NOW, TODAY
from tests.factories import make_debtor, make_invoice


def test_the_debtors_credit_reduces_the_target_and_is_shown_in_its_rule(session, settings):
    debtor = make_debtor(session, credit_cents=12_000)
    make_invoice(session, debtor, due_date=TODAY - timedelta(days=20), amount_cents=50_000)
    make_invoice(session, debtor, due_date=TODAY + timedelta(days=5), amount_cents=30_000)
    session.flush()
    brief = build_brief(session, debtor_id=debtor.id, today=TODAY, now=NOW, settings=settings)
    assert brief.credit_cents == 12_000
    assert brief.target.credit_cents == 12_000
    assert brief.target.cents == 50_000 + 30_000 - 12_000
    assert brief.target.rule.endswith(
        "− promesses en cours 0,00\u00a0€ − avoir au compte 120,00\u00a0€ = 680,00\u00a0€"
    ), brief.target.rule


def test_a_credit_above_what_is_due_brings_the_target_to_zero_never_below():
    target = target_amount([], [], today=TODAY, due_within_days=7, credit_cents=5_000)
    assert target.cents == 0
    assert "avoir au compte 50,00\u00a0€ = 0,00\u00a0€" in target.rule


def test_without_credit_the_rule_reads_as_before():
    target = target_amount([], [], today=TODAY, due_within_days=7)
    assert "avoir" not in target.rule
