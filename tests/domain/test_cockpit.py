"""Wallboard figures, each checked against a small hand-computed fixture."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from callcenter.config import CockpitSettings
from callcenter.domain.cockpit import day_of, percent, state_level, wallboard
from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.models import (
    AgentState,
    Campaign,
    EmailStatus,
    Payment,
    PromiseStatus,
    QueueItem,
    QueueState,
    Role,
)
from tests.factories import (
    make_call,
    make_callback,
    make_debtor,
    make_email,
    make_promise,
    make_user,
)

# Monday 23 November 2026, 15:00 in Paris (UTC+1).
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
MIDNIGHT = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)


def test_the_day_runs_from_local_midnight_to_local_midnight():
    day = day_of(NOW, "Europe/Paris")
    assert (day.today, day.start, day.end) == (TODAY, MIDNIGHT, MIDNIGHT + timedelta(days=1))
    late = day_of(datetime(2026, 11, 23, 23, 30, tzinfo=UTC), "Europe/Paris")
    assert late.today == date(2026, 11, 24)


def test_time_in_state_colours_follow_the_thresholds():
    limits = CockpitSettings(on_call_warn_seconds=600, on_call_alert_seconds=1200)
    assert state_level(AgentState.ON_CALL, 599, limits) == "ok"
    assert state_level(AgentState.ON_CALL, 600, limits) == "warn"
    assert state_level(AgentState.ON_CALL, 1200, limits) == "alert"
    assert state_level(AgentState.WRAP_UP, 300, limits) == "alert"
    assert state_level(AgentState.AVAILABLE, 10_000, limits) == "warn"
    assert state_level(AgentState.OFFLINE, 10_000, limits) == "ok"
    assert percent(1, 3) == Decimal("33.3")
    assert percent(2, 3) == Decimal("66.7")
    assert percent(0, 0) is None


def _fixture(session):
    sync_default_dispositions(session)
    alice = make_user(
        session,
        full_name="Alice Martin",
        agent_state=AgentState.ON_CALL,
        state_since=NOW - timedelta(seconds=700),
    )
    bruno = make_user(
        session,
        full_name="Bruno Petit",
        agent_state=AgentState.WRAP_UP,
        state_since=NOW - timedelta(seconds=30),
    )
    chloe = make_user(
        session,
        full_name="Chloé Durand",
        agent_state=AgentState.PAUSED,
        pause_code="repas",
        state_since=NOW - timedelta(seconds=2000),
    )
    make_user(session, full_name="Zoé Inactive", active=False)
    make_user(session, role=Role.SUPERVISOR, full_name="Sam Superviseur")
    acme = make_debtor(session, name="ACME SARL")
    bolt = make_debtor(session, name="Boulons du Nord")
    cara = make_debtor(session, name="Carrelages Azur")
    campaign = Campaign(code="relance", name="Relance")
    session.add(campaign)
    session.flush()
    # Alice holds ACME under a live lease; Bruno's claim on Cara has expired.
    session.add_all(
        [
            QueueItem(
                debtor_id=acme.id,
                campaign_id=campaign.id,
                stage="call",
                state=QueueState.CLAIMED,
                claimed_by_id=alice.id,
                lease_until=NOW + timedelta(minutes=5),
            ),
            QueueItem(
                debtor_id=cara.id,
                campaign_id=campaign.id,
                stage="call",
                state=QueueState.CLAIMED,
                claimed_by_id=bruno.id,
                lease_until=NOW - timedelta(minutes=1),
            ),
            QueueItem(debtor_id=bolt.id, campaign_id=campaign.id, stage="call"),
        ]
    )
    # Calls today: Alice 3 (promise = RPC, no_answer, refusal = RPC), Bruno 2 (voicemail,
    # then Bolt still in wrap-up), one without agent. Yesterday's call does not count.
    make_call(session, acme, agent_id=alice.id, at=MIDNIGHT, disposition_code="promise")
    make_call(session, acme, agent_id=alice.id, at=NOW, disposition_code="no_answer")
    make_call(session, acme, agent_id=alice.id, at=NOW, disposition_code="refusal")
    make_call(session, acme, agent_id=bruno.id, at=NOW, disposition_code="voicemail")
    make_call(session, bolt, agent_id=bruno.id, at=NOW)
    make_call(session, bolt, at=NOW)
    make_call(session, bolt, agent_id=alice.id, at=MIDNIGHT - timedelta(seconds=1))
    # Promises made today: 300 € + 200 € (the cancelled one and yesterday's do not count).
    make_promise(session, acme, amount_cents=30_000, created_at=NOW, promised_date=TODAY)
    make_promise(
        session, bolt, amount_cents=20_000, created_at=NOW, promised_date=date(2026, 11, 30)
    )
    make_promise(session, cara, amount_cents=99_900, created_at=NOW, status=PromiseStatus.CANCELLED)
    make_promise(
        session,
        cara,
        amount_cents=40_000,
        created_at=NOW - timedelta(days=3),
        promised_date=TODAY,
        paid_cents=15_000,
    )
    # Broken promises: ACME was called after (not waiting), Cara was not (waiting).
    make_promise(
        session,
        acme,
        status=PromiseStatus.BROKEN,
        created_at=NOW - timedelta(days=20),
        promised_date=TODAY - timedelta(days=10),
        resolved_at=NOW - timedelta(days=5),
    )
    make_promise(
        session,
        cara,
        status=PromiseStatus.BROKEN,
        created_at=NOW - timedelta(days=20),
        promised_date=TODAY - timedelta(days=10),
        resolved_at=NOW - timedelta(days=5),
    )
    # Collected today: 150 € + 75,50 €; yesterday's payment does not count.
    for reference, paid_on, cents in (
        ("VIR-1", TODAY, 15_000),
        ("VIR-2", TODAY, 7_550),
        ("VIR-3", TODAY - timedelta(days=1), 50_000),
    ):
        session.add(
            Payment(debtor_id=acme.id, reference=reference, paid_on=paid_on, amount_cents=cents)
        )
    # Emails: 2 sent today, 1 sent yesterday, 2 dead, 1 pending.
    make_email(session, acme, status=EmailStatus.SENT, sent_at=NOW - timedelta(hours=1))
    make_email(session, bolt, status=EmailStatus.SENT, sent_at=MIDNIGHT)
    make_email(session, bolt, status=EmailStatus.SENT, sent_at=MIDNIGHT - timedelta(minutes=1))
    make_email(session, cara, status=EmailStatus.DEAD)
    make_email(session, cara, status=EmailStatus.DEAD)
    make_email(session, cara)
    # Callbacks: two due, one later, one done.
    make_callback(session, acme, due_at=NOW - timedelta(hours=2))
    make_callback(session, bolt, due_at=NOW)
    make_callback(session, cara, due_at=NOW + timedelta(minutes=1))
    make_callback(session, cara, due_at=NOW - timedelta(hours=1), status="done")
    session.flush()
    return alice, bruno, chloe, acme, bolt


def test_every_wallboard_figure_matches_the_hand_computed_fixture(session, settings):
    alice, bruno, chloe, acme, bolt = _fixture(session)
    board = wallboard(session, now=NOW, settings=settings)
    figures = board.figures
    assert figures.calls == 6
    assert figures.right_party_calls == 2
    assert figures.right_party_rate == Decimal("33.3")
    assert (figures.promises, figures.promised_cents) == (2, 50_000)
    assert figures.collected_cents == 22_550
    assert (figures.due_today_promised_cents, figures.due_today_paid_cents) == (70_000, 15_000)
    assert (figures.emails_sent, figures.emails_failed) == (2, 2)
    assert figures.callbacks_due == 2
    assert figures.broken_waiting == 1

    tiles = {tile.full_name: tile for tile in board.agents}
    assert list(tiles) == ["Alice Martin", "Bruno Petit", "Chloé Durand"]
    a, b, c = tiles["Alice Martin"], tiles["Bruno Petit"], tiles["Chloé Durand"]
    assert (a.state, a.seconds_in_state, a.level) == (AgentState.ON_CALL, 700, "warn")
    assert (a.debtor_id, a.debtor_name) == (acme.id, "ACME SARL")
    assert (a.calls_today, a.right_party_today) == (3, 2)
    assert (b.state, b.seconds_in_state, b.level) == (AgentState.WRAP_UP, 30, "ok")
    assert (b.debtor_id, b.debtor_name) == (bolt.id, "Boulons du Nord")
    assert (b.calls_today, b.right_party_today) == (2, 0)
    assert (c.level, c.pause_code, c.debtor_id, c.calls_today) == ("alert", "repas", None, 0)

    assert [(d.campaign, d.stage, d.ready, d.claimed) for d in board.depth] == [
        ("Relance", "call", 1, 2)
    ]


def test_an_empty_day_shows_zeros_and_no_rate(session, settings):
    board = wallboard(session, now=NOW, settings=settings)
    assert board.agents == [] and board.depth == []
    assert board.figures.calls == 0 and board.figures.right_party_rate is None
    assert board.figures.collected_cents == 0


def test_the_wallboard_runs_a_fixed_handful_of_queries(session, settings):
    _fixture(session)
    for n in range(30):
        make_user(session, full_name=f"Agent {n}", agent_state=AgentState.ON_CALL, state_since=NOW)
    session.flush()
    statements = []

    def count(*_args):
        statements.append(1)

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        wallboard(session, now=NOW, settings=settings)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 5


def test_results_series_and_cei_match_a_hand_computed_fixture(session):
    from callcenter.domain.cockpit import results
    from callcenter.models import PaymentAllocation
    from tests.factories import make_invoice

    alice = make_user(session, full_name="Alice")
    debtor = make_debtor(session)
    start, end = date(2026, 11, 1), date(2026, 11, 30)
    # Opening receivables 1 000 € (issued in October), credit sales 500 € in November.
    old = make_invoice(
        session,
        debtor,
        issue_date=date(2026, 10, 1),
        due_date=date(2026, 10, 31),
        amount_cents=100_000,
    )
    make_invoice(
        session,
        debtor,
        issue_date=date(2026, 11, 10),
        due_date=date(2026, 12, 10),
        amount_cents=50_000,
    )
    payment = Payment(
        debtor_id=debtor.id, reference="P1", paid_on=date(2026, 11, 5), amount_cents=60_000
    )
    session.add(payment)
    session.flush()
    session.add(PaymentAllocation(payment_id=payment.id, invoice_id=old.id, amount_cents=60_000))
    for status in (PromiseStatus.KEPT, PromiseStatus.KEPT, PromiseStatus.BROKEN):
        make_promise(session, debtor, agent_id=alice.id, status=status, promised_date=start)
    make_promise(
        session, debtor, agent_id=alice.id, status=PromiseStatus.PARTIAL, promised_date=end
    )
    session.flush()
    data = results(session, start=start, end=end)
    assert len(data.collected) == 30
    assert data.collected[4] == (date(2026, 11, 5), 60_000)
    assert sum(cents for _day, cents in data.collected) == 60_000
    assert data.promise_outcomes[0] == (start, 2, 0, 1)
    assert data.promise_outcomes[-1] == (end, 0, 1, 0)
    assert data.kept_by_agent == [("Alice", 2, 4, Decimal("50.0"))]
    # Closing 900 € of which 500 € not yet due: CEI = (1000 + 500 − 900) ÷ (1000 + 500 − 500).
    assert data.cei_parts == {
        "opening": 100_000,
        "sales": 50_000,
        "closing": 90_000,
        "closing_current": 50_000,
    }
    assert data.cei == Decimal("60.0")
    assert data.dso_trend[-1][0] == end
