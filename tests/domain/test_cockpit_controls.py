"""Supervisor controls: each changes one thing and leaves an audit event with its actor."""

from datetime import UTC, date, datetime, timedelta
from functools import partial

import pytest
from sqlmodel import select

from callcenter.domain.cockpit import agent_activity, search_debtors
from callcenter.domain.controls import (
    force_release,
    mark_do_not_call,
    mark_insolvent,
    reassign_callback,
    reassign_debtor,
    resend_email,
    set_campaign_paused,
    set_queue_weights,
)
from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.queue import (
    claim_next,
    explain_debtor,
    refresh_debtors,
    sync_ladder,
)
from callcenter.domain.queue.overrides import effective_settings
from callcenter.domain.queue.rules import exclusion_labels
from callcenter.models import (
    Campaign,
    EmailStatus,
    Event,
    QueueItem,
    QueueState,
    Role,
    SettingOverride,
)
from tests.domain.queue_helpers import NOW as QUEUE_NOW
from tests.factories import (
    make_call,
    make_callback,
    make_contact,
    make_debtor,
    make_email,
    make_invoice,
    make_user,
)

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def _events(session, type_):
    return session.exec(select(Event).where(Event.type == type_)).all()


@pytest.fixture
def boss(session):
    return make_user(session, role=Role.SUPERVISOR, full_name="Sam Superviseur")


def test_pause_and_resume_a_campaign(session, boss, settings):
    campaign = Campaign(code="relance", name="Relance")
    session.add(campaign)
    session.flush()
    set_paused = partial(
        set_campaign_paused,
        session,
        campaign_id=campaign.id,
        actor_id=boss.id,
        now=NOW,
        settings=settings,
    )
    set_paused(paused=True)
    assert session.get(Campaign, campaign.id).paused
    with pytest.raises(DomainError, match="déjà en pause"):
        set_paused(paused=True)
    set_paused(paused=False)
    assert not session.get(Campaign, campaign.id).paused
    (paused,) = _events(session, "campaign.paused")
    (resumed,) = _events(session, "campaign.resumed")
    assert paused.actor_id == boss.id and paused.payload["code"] == "relance"
    assert resumed.actor_id == boss.id and resumed.at == NOW


def test_queue_weights_are_stored_and_applied_over_the_config(session, settings, boss):
    changes = set_queue_weights(
        session,
        values={"points_per_broken_promise": "22,5", "points_never_reached": "10"},
        actor_id=boss.id,
        now=NOW,
        settings=settings,
    )
    assert changes == {"points_per_broken_promise": (15.0, 22.5)}
    assert effective_settings(session, settings).queue.points_per_broken_promise == 22.5
    assert settings.queue.points_per_broken_promise == 15.0
    (event,) = _events(session, "queue.weights")
    assert event.actor_id == boss.id
    assert event.payload == {"points_per_broken_promise": {"before": 15.0, "after": 22.5}}
    # Back to the configured value: the override row goes away.
    set_queue_weights(
        session,
        values={"points_per_broken_promise": "15"},
        actor_id=boss.id,
        now=NOW,
        settings=settings,
    )
    assert session.exec(select(SettingOverride)).all() == []
    assert effective_settings(session, settings) is settings


def test_bad_weights_are_refused_all_or_nothing(session, settings, boss):
    with pytest.raises(ValidationFailed) as failed:
        set_queue_weights(
            session,
            values={"points_per_risk": "beaucoup", "points_never_reached": "-3"},
            actor_id=boss.id,
            now=NOW,
            settings=settings,
        )
    assert "n'est pas un nombre" in failed.value.errors["points_per_risk"]
    assert "négatif" in failed.value.errors["points_never_reached"]
    assert session.exec(select(SettingOverride)).all() == []
    assert _events(session, "queue.weights") == []


def test_reassign_a_callback_to_an_agent(session, boss):
    agent = make_user(session, full_name="Alice")
    debtor = make_debtor(session)
    callback = make_callback(session, debtor, due_at=NOW)
    reassign_callback(
        session, callback_id=callback.id, agent_id=agent.id, actor_id=boss.id, now=NOW
    )
    assert (callback.agent_id, callback.personal) == (agent.id, True)
    (event,) = _events(session, "callback.reassigned")
    assert (event.actor_id, event.debtor_id, event.payload["to"]) == (boss.id, debtor.id, agent.id)
    with pytest.raises(ValidationFailed):
        reassign_callback(
            session, callback_id=callback.id, agent_id=boss.id, actor_id=boss.id, now=NOW
        )


def test_reassign_a_debtor_to_an_agent(session, boss):
    agent = make_user(session, full_name="Alice")
    debtor = make_debtor(session)
    reassign_debtor(session, debtor_id=debtor.id, agent_id=agent.id, actor_id=boss.id, now=NOW)
    assert debtor.owner_id == agent.id
    (event,) = _events(session, "debtor.reassigned")
    assert (event.actor_id, event.debtor_id, event.payload["to"]) == (boss.id, debtor.id, agent.id)


def test_force_release_a_claimed_debtor(session, boss):
    agent = make_user(session)
    debtor = make_debtor(session)
    session.add(
        QueueItem(
            debtor_id=debtor.id,
            state=QueueState.CLAIMED,
            claimed_by_id=agent.id,
            claimed_at=NOW,
            lease_until=NOW + timedelta(minutes=10),
        )
    )
    session.flush()
    assert force_release(session, debtor_id=debtor.id, actor_id=boss.id, now=NOW) == agent.id
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor.id)).one()
    assert (item.state, item.claimed_by_id, item.lease_until) == (QueueState.READY, None, None)
    (event,) = _events(session, "queue.force_released")
    assert (event.actor_id, event.debtor_id, event.payload["agent_id"]) == (
        boss.id,
        debtor.id,
        agent.id,
    )
    with pytest.raises(DomainError, match="aucun chargé"):
        force_release(session, debtor_id=debtor.id, actor_id=boss.id, now=NOW)


@pytest.mark.parametrize(
    ("status", "agent_state", "refused"),
    [
        ("in-progress", "on_call", True),
        ("ringing", "on_call", True),
        ("completed", "wrap_up", True),
        ("completed", "available", False),
        ("no-answer", "available", False),
    ],
)
def test_force_release_waits_for_the_outcome_of_a_call_in_hand(
    session, boss, status, agent_state, refused
):
    """A supervisor's release during a live call (or its wrap-up) made the agent's promise
    be refused and lost: it is refused instead, until the outcome is written."""
    agent = make_user(session)
    agent.agent_state = agent_state
    debtor = make_debtor(session)
    session.add(
        QueueItem(
            debtor_id=debtor.id,
            state=QueueState.CLAIMED,
            claimed_by_id=agent.id,
            claimed_at=NOW - timedelta(minutes=3),
            lease_until=NOW + timedelta(minutes=10),
        )
    )
    make_call(session, debtor, agent_id=agent.id, provider_status=status, at=NOW)
    make_call(
        session,
        debtor,
        agent_id=agent.id,
        provider_status="in-progress",
        at=NOW - timedelta(days=2),
    )
    session.flush()
    if refused:
        with pytest.raises(DomainError, match="noter l'issue"):
            force_release(session, debtor_id=debtor.id, actor_id=boss.id, now=NOW)
        item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor.id)).one()
        assert item.claimed_by_id == agent.id
    else:
        assert force_release(session, debtor_id=debtor.id, actor_id=boss.id, now=NOW) == agent.id


def test_mark_do_not_call_excludes_the_debtor(session, settings, boss):
    debtor = make_debtor(session)
    make_contact(session, debtor)
    make_invoice(session, debtor)
    with pytest.raises(ValidationFailed):
        mark_do_not_call(
            session, debtor_id=debtor.id, reason=" ", actor_id=boss.id, now=NOW, settings=settings
        )
    mark_do_not_call(
        session,
        debtor_id=debtor.id,
        reason="Demande écrite du client",
        actor_id=boss.id,
        now=NOW,
        settings=settings,
    )
    assert debtor.do_not_call
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor.id)).one()
    assert item.state == QueueState.EXCLUDED
    (event,) = _events(session, "debtor.do_not_call")
    assert (event.actor_id, event.payload["reason"]) == (boss.id, "Demande écrite du client")


def test_mark_insolvent_records_the_procedure(session, settings, boss):
    debtor = make_debtor(session)
    with pytest.raises(ValidationFailed) as failed:
        mark_insolvent(
            session,
            debtor_id=debtor.id,
            status="faillite",
            judgment_date=None,
            actor_id=boss.id,
            now=NOW,
            settings=settings,
        )
    assert set(failed.value.errors) == {"status", "judgment_date"}
    mark_insolvent(
        session,
        debtor_id=debtor.id,
        status="redressement judiciaire",
        judgment_date=date(2026, 11, 2),
        actor_id=boss.id,
        now=NOW,
        settings=settings,
    )
    assert (debtor.insolvency_status, debtor.insolvency_date) == (
        "redressement judiciaire",
        date(2026, 11, 2),
    )
    (event,) = _events(session, "debtor.insolvency")
    assert (event.actor_id, event.payload["date"]) == (boss.id, "2026-11-02")


def test_resend_a_dead_email(session, boss):
    debtor = make_debtor(session)
    dead = make_email(session, debtor, status=EmailStatus.DEAD, attempts=8)
    resend_email(session, email_id=dead.id, actor_id=boss.id, now=NOW)
    assert (dead.status, dead.attempts) == (EmailStatus.PENDING, 0)
    (event,) = _events(session, "email.resend")
    assert (event.actor_id, event.debtor_id) == (boss.id, debtor.id)
    with pytest.raises(DomainError):
        resend_email(session, email_id=dead.id, actor_id=boss.id, now=NOW)


def test_agent_activity_averages_handling_and_wrap_up(session):
    sync_default_dispositions(session)
    agent = make_user(session)
    debtor = make_debtor(session)
    start = NOW - timedelta(hours=3)
    # Handling 120 s and 60 s (average 90 s); wrap-up 30 s and 50 s (average 40 s).
    make_call(
        session,
        debtor,
        agent_id=agent.id,
        at=start,
        answered_at=start,
        ended_at=start + timedelta(seconds=120),
        wrap_up_ended_at=start + timedelta(seconds=150),
        disposition_code="promise",
    )
    later = start + timedelta(hours=1)
    make_call(
        session,
        debtor,
        agent_id=agent.id,
        at=later,
        answered_at=later,
        ended_at=later + timedelta(seconds=60),
        wrap_up_ended_at=later + timedelta(seconds=110),
        disposition_code="promise",
    )
    make_call(session, debtor, agent_id=agent.id, at=later, disposition_code="no_answer")
    make_call(session, debtor, agent_id=agent.id, at=NOW - timedelta(days=2))
    activity = agent_activity(session, agent_id=agent.id, start=start, end=NOW)
    assert (activity.calls, activity.answered, activity.right_party) == (3, 2, 2)
    assert (activity.average_handling_seconds, activity.average_wrap_up_seconds) == (90, 40)
    assert [(o.code, o.label, o.calls) for o in activity.outcomes] == [
        ("promise", "Promesse de paiement", 2),
        ("no_answer", "Pas de réponse", 1),
    ]


def test_search_by_name_siren_phone_and_invoice_number(session):
    acme = make_debtor(session, name="ACME Industrie", siren="732829320")
    other = make_debtor(session, name="Boulangerie Dupain")
    make_contact(session, other, phone="+33123456789")
    make_invoice(session, acme, number="FA-2026-0042")

    def names(text):
        return [(f.name, f.matched) for f in search_debtors(session, text=text)]

    assert names("acme") == [("ACME Industrie", "Nom ou code")]
    assert names("732 829 320") == [("ACME Industrie", "SIREN")]
    assert names("01 23 45 67 89") == [("Boulangerie Dupain", "Téléphone")]
    assert names("FA-2026-0042") == [("ACME Industrie", "Facture")]
    assert names("100%") == []


def test_a_paused_campaign_hands_out_no_debtor_until_resumed(session, settings):
    sync_ladder(session, settings=settings)
    debtor = make_debtor(session)
    make_contact(session, debtor)
    make_invoice(session, debtor, due_date=QUEUE_NOW.date() - timedelta(days=17))
    agent = make_user(session)
    boss = make_user(session, role=Role.SUPERVISOR)
    refresh_debtors(session, debtor_ids=[debtor.id], now=QUEUE_NOW, settings=settings)
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor.id)).one()
    assert item.state == "ready" and item.campaign_id is not None
    set_paused = partial(
        set_campaign_paused,
        session,
        campaign_id=item.campaign_id,
        actor_id=boss.id,
        now=QUEUE_NOW,
        settings=settings,
    )
    set_paused(paused=True)
    assert claim_next(session, agent_id=agent.id, now=QUEUE_NOW, settings=settings) is None
    session.refresh(item)
    assert item.state == "excluded"
    assert exclusion_labels(item.exclusion_reasons) == [
        "Campagne en pause : aucun débiteur n'en est distribué"
    ]
    why = explain_debtor(session, debtor_id=debtor.id, now=QUEUE_NOW, settings=settings)
    assert why.exclusion_lines == ["Campagne en pause : aucun débiteur n'en est distribué"]
    set_paused(paused=False)
    session.refresh(item)
    assert (item.state, item.exclusion_reasons) == ("ready", [])
    claim = claim_next(session, agent_id=agent.id, now=QUEUE_NOW, settings=settings)
    assert claim is not None and claim.debtor_id == debtor.id
