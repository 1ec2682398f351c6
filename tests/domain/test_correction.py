"""Correcting a saved outcome: same agent, within the window, audited, recap replaced."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from callcenter.domain.correction import correct_outcome
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.outbox import mark_sent
from callcenter.domain.outcome import OutcomeForm
from callcenter.domain.timeline import describe_events
from callcenter.models import (
    Callback,
    Dispute,
    EmailStatus,
    Event,
    Invoice,
    OutboxEmail,
    Promise,
    PromiseStatus,
    QueueItem,
    QueueState,
)
from tests.domain import test_outcome
from tests.domain.queue_helpers import NOW
from tests.domain.test_outcome import _record, forms

world = test_outcome.world  # the same debtor, contact, invoices and agent holding it


def _correct(session, world, call_id, form, *, minutes=5, agent=None):
    return correct_outcome(
        session,
        agent_id=(agent or world["agent"]).id,
        call_id=call_id,
        form=form,
        now=NOW + timedelta(minutes=minutes),
        settings=world["settings"],
    )


def test_a_promise_corrected_into_a_plan_cancels_it_and_replaces_the_recap(session, world):
    first = _record(session, world, forms(world)["promise"])
    old_email = first.email
    assert old_email is not None and old_email.status == EmailStatus.PENDING

    result = _correct(session, world, first.call.id, forms(world)["payment_plan"])

    assert result.disposition.code == "payment_plan"
    assert result.call.id == first.call.id
    assert session.get(Promise, first.promise.id).status == PromiseStatus.CANCELLED
    assert session.get(OutboxEmail, old_email.id).status == EmailStatus.CANCELLED
    assert result.email is not None and result.email.id != old_email.id
    assert result.email.status == EmailStatus.PENDING
    assert result.plan is not None and result.plan.total_cents == 175_050
    event = session.exec(select(Event).where(Event.type == "call.corrected")).one()
    assert event.actor_id == world["agent"].id
    assert event.payload["before"]["disposition"] == "promise"
    assert event.payload["before"]["promise_amount_cents"] == 175_050
    assert event.payload["after"]["disposition"] == "payment_plan"
    assert event.payload["after"]["plan_total_cents"] == 175_050
    entry = describe_events(session, debtor_id=world["debtor"].id, limit=20)
    assert any(e.title == "Issue de l'appel corrigée" for e in entry)
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == world["debtor"].id)).one()
    assert item.claimed_by_id is None and item.state != QueueState.CLAIMED


def test_a_promise_corrected_into_a_callback_leaves_no_recap(session, world):
    first = _record(session, world, forms(world)["promise"])
    result = _correct(session, world, first.call.id, forms(world)["callback"])
    assert result.email is None
    assert session.get(OutboxEmail, first.email.id).status == EmailStatus.CANCELLED
    assert session.exec(select(Callback).where(Callback.call_id == first.call.id)).one()


def test_a_dispute_corrected_gives_its_invoices_back_to_dunning(session, world):
    first = _record(session, world, forms(world)["dispute"])
    _old, recent, _soon = world["invoices"]
    assert session.get(Invoice, recent.id).disputed

    _correct(session, world, first.call.id, OutcomeForm("no_answer"))

    assert not session.get(Invoice, recent.id).disputed
    assert session.get(Dispute, first.dispute.id).status == "rejected"


def test_refused_after_the_window_in_french(session, world):
    first = _record(session, world, forms(world)["promise"])
    with pytest.raises(DomainError) as refused:
        _correct(session, world, first.call.id, OutcomeForm("no_answer"), minutes=16)
    assert "délai de correction (15 minutes) est passé" in refused.value.message
    assert session.get(Promise, first.promise.id).status == PromiseStatus.PENDING


def test_the_window_counts_from_the_first_save(session, world):
    first = _record(session, world, forms(world)["promise"])
    _correct(session, world, first.call.id, OutcomeForm("no_answer"), minutes=10)
    with pytest.raises(DomainError, match="délai de correction"):
        _correct(session, world, first.call.id, OutcomeForm("voicemail"), minutes=16)


def test_refused_for_another_agent(session, world):
    first = _record(session, world, forms(world)["promise"])
    with pytest.raises(DomainError, match="Seul l'agent qui a saisi cette issue"):
        _correct(session, world, first.call.id, OutcomeForm("no_answer"), agent=world["other"])


def test_refused_while_another_agent_holds_the_debtor(session, world):
    first = _record(session, world, forms(world)["no_answer"])
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == world["debtor"].id)).one()
    item.state, item.claimed_by_id = QueueState.CLAIMED, world["other"].id
    item.lease_until = NOW + timedelta(minutes=30)
    session.flush()
    with pytest.raises(DomainError, match="Un autre agent traite ce dossier"):
        _correct(session, world, first.call.id, forms(world)["promise"])


def test_an_invalid_correction_is_refused_field_by_field(session, world):
    first = _record(session, world, forms(world)["no_answer"])
    with pytest.raises(ValidationFailed) as refused:
        _correct(session, world, first.call.id, OutcomeForm("promise", promise_amount="abc"))
    assert "promise_amount" in refused.value.errors


def test_a_recap_already_sent_is_not_sent_again(session, world):
    first = _record(session, world, forms(world)["promise"])
    later = NOW + timedelta(minutes=world["settings"].mail.recap_delay_minutes + 1)
    mark_sent(session, email_id=first.email.id, now=later)

    result = correct_outcome(
        session,
        agent_id=world["agent"].id,
        call_id=first.call.id,
        form=forms(world)["callback"],
        now=later,
        settings=world["settings"],
    )
    assert result.email is None
    assert "déjà parti" in result.no_recap
    assert session.exec(select(OutboxEmail)).all() == [session.get(OutboxEmail, first.email.id)]
