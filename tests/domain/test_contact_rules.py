"""Do-not-call and insolvency stop every contact at once: the call, the outcome, the email."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from callcenter.domain.calls import start_call
from callcenter.domain.contact_rules import contact_block
from callcenter.domain.errors import DomainError
from callcenter.domain.outbox import claim_due_emails
from callcenter.domain.outcome import OutcomeForm, record_outcome
from callcenter.domain.retries import DEFAULT_DELIVERY_POLICY
from callcenter.models import Call, Debtor, EmailStatus, Event, OutboxEmail, Promise
from tests.domain.queue_helpers import NOW, TODAY
from tests.domain.test_outcome import world  # noqa: F401 (fixture)
from tests.factories import make_debtor, make_email

STOPS = {
    "insolvency": ({"insolvency_status": "liquidation judiciaire"}, "procédure collective"),
    "do_not_call": ({"do_not_call": True}, "ne doit plus être appelé"),
}


def test_a_debtor_may_be_contacted_unless_stopped():
    assert contact_block(Debtor(account_code="C1", name="Libre")) is None
    assert contact_block(Debtor(account_code="C2", name="Vide", insolvency_status="")) is None
    both = contact_block(
        Debtor(account_code="C3", name="X", do_not_call=True, insolvency_status="sauvegarde")
    )
    assert both.code == "insolvency" and "(sauvegarde)" in both.reason
    assert contact_block(Debtor(account_code="C4", name="Y", do_not_call=True)).code == (
        "do_not_call"
    )


def _stop(session, debtor, fields):
    for name, value in fields.items():
        setattr(debtor, name, value)
    session.add(debtor)
    session.flush()


@pytest.mark.parametrize("stop", sorted(STOPS))
def test_no_call_starts_on_a_held_debtor_stopped_since_the_claim(session, world, stop):  # noqa: F811
    fields, reason = STOPS[stop]
    _stop(session, world["debtor"], fields)
    with pytest.raises(DomainError, match=reason):
        start_call(
            session,
            agent_id=world["agent"].id,
            debtor_id=world["debtor"].id,
            contact_id=world["contact"].id,
            provider="simulated",
            caller_id="+33100000000",
            now=NOW,
            lease=timedelta(minutes=10),
        )
    assert session.exec(select(Call)).all() == []


@pytest.mark.parametrize("stop", sorted(STOPS))
def test_no_outcome_nor_recap_on_a_held_debtor_stopped_during_the_call(session, world, stop):  # noqa: F811
    fields, reason = STOPS[stop]
    _stop(session, world["debtor"], fields)
    old, _recent, _soon = world["invoices"]
    form = OutcomeForm(
        "promise",
        promise_amount="500,00",
        promise_date=(TODAY + timedelta(days=7)).isoformat(),
        promise_invoices=[str(old.id)],
    )
    with pytest.raises(DomainError, match=reason):
        record_outcome(
            session,
            agent_id=world["agent"].id,
            debtor_id=world["debtor"].id,
            form=form,
            now=NOW,
            settings=world["settings"],
        )
    assert session.exec(select(Promise)).all() == []
    assert session.exec(select(OutboxEmail)).all() == []


def test_the_outbox_cancels_the_emails_of_stopped_debtors_with_their_reason(session):
    free = make_debtor(session)
    stopped = {code: make_debtor(session, **fields) for code, (fields, _) in STOPS.items()}
    due = NOW - timedelta(minutes=1)
    kept = make_email(session, free, next_attempt_at=due)
    emails = {code: make_email(session, d, next_attempt_at=due) for code, d in stopped.items()}
    unrelated = make_email(session, free, debtor_id=None, next_attempt_at=due)

    claimed = claim_due_emails(session, now=NOW, limit=10, policy=DEFAULT_DELIVERY_POLICY)

    assert sorted(email.id for email in claimed) == sorted([kept.id, unrelated.id])
    for code, (_fields, reason) in STOPS.items():
        email = session.get(OutboxEmail, emails[code].id)
        assert email.status == EmailStatus.CANCELLED
        assert reason in email.last_error and email.last_error.endswith("Envoi annulé.")
        event = session.exec(
            select(Event).where(Event.type == "email.cancelled", Event.debtor_id == email.debtor_id)
        ).one()
        assert event.payload == {"email_id": email.id, "reason": code}
