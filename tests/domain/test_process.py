"""The dunning process walked step by step with a controlled clock (issue #16).

One debtor goes through the whole standard ladder: preventive email, reminders, calls not
answered, a call reached with a promise (suspension), the promise broken (back to a call),
a payment plan, an instalment missed, the letter, the formal notice proposed then approved,
litigation approved. Each step asserts the case, the action done and the queue row.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from callcenter.domain.controls import call_now
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.process import advance_debtors, approve_steps, send_back_to_calls
from callcenter.domain.promises import refresh_commitments
from callcenter.domain.queue import refresh_debtors, sync_ladder
from callcenter.domain.queue.eligibility import calling_window
from callcenter.domain.queue.rules import exclusion_labels, reason_lines
from callcenter.models import (
    CaseStatus,
    DunningCase,
    Event,
    Instalment,
    OutboxEmail,
    PaymentPlan,
    PromiseInvoice,
    QueueItem,
    QueueState,
)
from tests.conftest import TEST_NOW, TEST_TODAY, make_settings
from tests.domain.queue_helpers import NOW, TODAY, refreshed
from tests.factories import make_call, make_contact, make_debtor, make_invoice, make_promise


class Walk:
    """A debtor and a clock that moves forward; each ``at`` refreshes the debtor."""

    def __init__(self, session, settings, debtor) -> None:
        self.session, self.settings, self.debtor = session, settings, debtor
        self.now = NOW

    def at(self, now: datetime) -> QueueItem:
        """The process job's walk (it writes emails and letters), then the queue's refresh."""
        self.now = now
        today = now.astimezone(ZoneInfo(self.settings.app.timezone)).date()
        advance_debtors(
            self.session, debtor_ids=[self.debtor.id], now=now, today=today, settings=self.settings
        )
        item = refreshed(self.session, self.debtor, self.settings, now=now)
        self.session.refresh(self.case)
        return item

    def later(self, **delta) -> QueueItem:
        return self.at(self.now + timedelta(**delta))

    def next_calling_time(self) -> QueueItem:
        """Calls are placed in the calling window only (no weekend, no holiday)."""
        window = calling_window(self.debtor.time_zone, self.now, self.settings.queue)
        return self.at(self.now if window.open else window.reopens_at)

    @property
    def case(self) -> DunningCase:
        return self.session.exec(
            select(DunningCase).where(DunningCase.debtor_id == self.debtor.id)
        ).one()

    def emails(self) -> list[str]:
        rows = self.session.exec(
            select(OutboxEmail)
            .where(OutboxEmail.debtor_id == self.debtor.id)
            .order_by(OutboxEmail.id)
        ).all()
        return [row.template for row in rows]

    def calls(self, count: int, *, reached: bool = False) -> None:
        for minute in range(count):
            at = self.now + timedelta(minutes=minute + 1)
            make_call(
                self.session,
                self.debtor,
                at=at,
                answered_at=at if reached else None,
                answered_by="human" if reached else None,
            )
        self.now += timedelta(minutes=count + 1)

    def events(self, type_: str) -> list[Event]:
        return self.session.exec(
            select(Event).where(Event.debtor_id == self.debtor.id, Event.type == type_)
        ).all()


def test_one_debtor_walks_the_whole_ladder(session, settings):
    debtor = make_debtor(session)
    make_contact(session, debtor)
    invoice = make_invoice(
        session, debtor, due_date=TODAY + timedelta(days=10), amount_cents=120_000
    )
    walk = Walk(session, settings, debtor)

    # J-10: the preventive email leaves at once (office hours), the step is done.
    item = walk.at(NOW)
    assert (walk.case.step_label, walk.case.entered_by) == (
        "E-mail préventif : tout est-il en ordre ?",
        "calendar",
    )
    assert walk.case.done_at == NOW and walk.emails() == ["ladder_preventive"]
    assert item.state == QueueState.EXCLUDED
    # the J-3 call is for invoices of 5 000 € or more: the next step is the J+1 email,
    # 11 days after the preventive one; a day earlier nothing moves.
    walk.later(days=10)
    assert walk.case.step_label == "E-mail préventif : tout est-il en ordre ?"
    walk.later(days=1)
    assert walk.case.step_label == "1er e-mail de relance"
    walk.later(days=7)
    assert walk.case.step_label == "2e e-mail de relance"
    assert walk.emails() == ["ladder_preventive", "ladder_reminder_1", "ladder_reminder_2"]

    # J+15: the first call. Three attempts without an answer end the step.
    item = walk.later(days=7)
    assert (walk.case.step_label, item.state) == ("1er appel", QueueState.READY)
    walk.calls(2)
    item = walk.at(walk.now)
    assert walk.case.done_at is None and item.stage == "J+15 1er appel"
    walk.calls(1)
    item = walk.at(walk.now)
    assert walk.case.action_note == "3 appels sans réponse"
    assert item.state == QueueState.EXCLUDED
    assert (
        "Étape « 1er appel » faite (3 appels sans réponse) : « 2e appel » ensuite, "
        "après le délai prévu"
    ) in exclusion_labels(item.exclusion_reasons)

    # J+25: the second call; the debtor is reached and promises to pay.
    item = walk.later(days=10)
    assert (walk.case.step_label, item.state) == ("2e appel", QueueState.READY)
    walk.calls(1, reached=True)
    promised = walk.now.date() + timedelta(days=5)
    promise = make_promise(
        session, debtor, amount_cents=120_000, promised_date=promised, grace_days=3
    )
    session.add(PromiseInvoice(promise_id=promise.id, invoice_id=invoice.id))
    item = walk.at(walk.now)
    assert walk.case.action_note == "débiteur joint"
    assert item.state == QueueState.EXCLUDED
    assert any(
        r.startswith("Promesse de paiement en cours :")
        for r in exclusion_labels(item.exclusion_reasons)
    )
    # suspended: past the second call's delay, nothing moves while the promise runs
    walk.later(days=7)
    assert walk.case.step_label == "2e appel"

    # The promise is broken: back to a call at once, with the broken-promise points.
    walk.now += timedelta(days=2)
    refresh_commitments(
        session, debtor_ids=[debtor.id], today=promised + timedelta(days=4), now=walk.now
    )
    item = walk.later(minutes=1)
    assert (walk.case.step_label, walk.case.done_at) == ("2e appel", None)
    assert item.state == QueueState.READY
    assert any("promesse non tenue" in r["label"] for r in reason_lines(item.reasons))

    # Reached again: a payment plan suspends the process until an instalment is missed.
    walk.calls(1, reached=True)
    plan = PaymentPlan(debtor_id=debtor.id, total_cents=120_000, created_at=walk.now)
    session.add(plan)
    session.flush()
    first_due = walk.now.date() + timedelta(days=3)
    for sequence, due in enumerate((first_due, first_due + timedelta(days=30)), start=1):
        session.add(
            Instalment(plan_id=plan.id, sequence=sequence, due_date=due, amount_cents=60_000)
        )
    session.flush()
    item = walk.at(walk.now)
    assert any(
        r.startswith("Échéancier en cours") for r in exclusion_labels(item.exclusion_reasons)
    )
    walk.later(days=5)
    assert walk.case.step_label == "2e appel" and walk.case.done_at is not None
    walk.now += timedelta(days=5)
    refresh_commitments(
        session, debtor_ids=[debtor.id], today=first_due + timedelta(days=10), now=walk.now
    )
    walk.later(minutes=1)
    item = walk.next_calling_time()
    assert exclusion_labels(item.exclusion_reasons) == []
    assert (walk.case.step_label, walk.case.done_at, item.state) == (
        "2e appel",
        None,
        QueueState.READY,
    )

    # Never reached again: the call step ends, then the letter is recorded.
    walk.calls(3)
    walk.at(walk.now)
    assert walk.case.action_note == "3 appels sans réponse"
    item = walk.later(days=10)
    assert walk.case.step_label == "Lettre de relance"
    assert walk.case.action_note == "lettre de relance à imprimer"
    assert len(walk.events("letter.generated")) == 1
    assert item.state == QueueState.EXCLUDED

    # J+45: the formal notice is proposed and waits for a supervisor.
    item = walk.later(days=10)
    assert (walk.case.step_label, walk.case.status) == ("Mise en demeure", CaseStatus.APPROVAL)
    assert any("en attente de validation" in r for r in exclusion_labels(item.exclusion_reasons))
    walk.later(days=30)
    assert walk.case.status == CaseStatus.APPROVAL
    approved = approve_steps(
        session,
        debtor_ids=[debtor.id],
        actor_id=None,
        now=walk.now,
        today=walk.now.date(),
        settings=settings,
    )
    assert approved[0].letter is not None and approved[0].letter.kind == "mise_en_demeure"
    assert len(walk.events("letter.generated")) == 2
    assert len(walk.events("dunning.approved")) == 1

    # J+60: litigation, proposed 15 days after the notice, approved.
    walk.later(days=14)
    assert walk.case.step_label == "Mise en demeure"
    walk.later(days=1)
    assert (walk.case.step_label, walk.case.status) == (
        "Transmission au contentieux",
        CaseStatus.APPROVAL,
    )
    approve_steps(
        session,
        debtor_ids=[debtor.id],
        actor_id=None,
        now=walk.now,
        today=walk.now.date(),
        settings=settings,
    )
    walk.later(days=1)
    assert walk.case.action_note == "transmission au contentieux validée"
    assert walk.case.status == CaseStatus.ACTIVE

    # Paid: the case closes.
    invoice.open_amount_cents = 0
    invoice.status = "paid"
    session.add(invoice)
    session.flush()
    walk.later(hours=1)
    assert walk.case.status == CaseStatus.CLOSED


def test_a_back_book_enters_at_the_first_call_and_is_callable(session, settings):
    """Invoices 30 to 400 days overdue with no history: every debtor is callable at once."""
    debtors = []
    for days in (30, 45, 61, 120, 400):
        debtor = make_debtor(session)
        make_contact(session, debtor)
        make_invoice(session, debtor, due_date=TODAY - timedelta(days=days))
        debtors.append(debtor)
    refresh_debtors(session, debtor_ids=[d.id for d in debtors], now=NOW, settings=settings)
    for debtor in debtors:
        case = session.exec(select(DunningCase).where(DunningCase.debtor_id == debtor.id)).one()
        item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor.id)).one()
        assert (case.step_label, case.entered_by) == ("1er appel", "catch_up")
        assert (item.state, item.exclusion_reasons) == (QueueState.READY, [])


def test_the_catch_up_step_is_configurable(session, tmp_path, database_url):
    steps = [
        {"offset_days": 1, "action": "email", "label": "Relance"},
        {"offset_days": 10, "action": "call", "label": "Appel courtois"},
        {"offset_days": 20, "action": "call", "label": "Appel ferme", "catch_up": True},
        {"offset_days": 40, "action": "letter", "label": "Lettre"},
    ]
    settings = make_settings(
        tmp_path, database_url, ladder={"standard": steps, "key_account": steps, "small": steps}
    )
    sync_ladder(session, settings=settings)
    debtor = make_debtor(session)
    make_contact(session, debtor)
    make_invoice(session, debtor, due_date=TODAY - timedelta(days=200))
    advance_debtors(session, debtor_ids=[debtor.id], now=NOW, today=TODAY, settings=settings)
    case = session.exec(select(DunningCase).where(DunningCase.debtor_id == debtor.id)).one()
    assert (case.step_label, case.entered_by) == ("Appel ferme", "catch_up")


def test_two_catch_up_steps_are_refused():
    from pydantic import ValidationError

    from callcenter.config import LadderSettings, LadderStep

    with pytest.raises(ValidationError, match="une seule étape de rattrapage"):
        LadderSettings(
            standard=[
                LadderStep(offset_days=10, action="call", label="A", catch_up=True),
                LadderStep(offset_days=20, action="call", label="B", catch_up=True),
            ]
        )
    with pytest.raises(ValidationError, match="doit être un appel"):
        LadderSettings(
            standard=[LadderStep(offset_days=10, action="letter", label="A", catch_up=True)]
        )


def test_a_debtor_without_a_phone_number_skips_the_call_steps(session, settings):
    debtor = make_debtor(session)
    make_contact(session, debtor, phone=None, mobile=None)
    make_invoice(session, debtor, due_date=TODAY - timedelta(days=20))
    item = refreshed(session, debtor, settings)
    case = session.exec(select(DunningCase).where(DunningCase.debtor_id == debtor.id)).one()
    assert case.action_note == "aucun numéro de téléphone : étape passée"
    assert item.state == QueueState.EXCLUDED


def test_a_supervisor_sends_a_proposed_notice_back_to_calls(session, settings):
    debtor = make_debtor(session)
    make_contact(session, debtor)
    make_invoice(session, debtor, due_date=TODAY - timedelta(days=100))
    refresh_debtors(session, debtor_ids=[debtor.id], now=NOW, settings=settings)
    case = session.exec(select(DunningCase).where(DunningCase.debtor_id == debtor.id)).one()
    case.step_offset_days, case.step_action, case.step_label = (
        45,
        "formal_notice",
        "Mise en demeure",
    )
    case.status = CaseStatus.APPROVAL
    session.add(case)
    session.flush()
    assert (
        send_back_to_calls(
            session, debtor_ids=[debtor.id], actor_id=None, now=NOW, settings=settings
        )
        == 1
    )
    session.refresh(case)
    assert (case.step_label, case.status) == ("2e appel", CaseStatus.ACTIVE)
    assert len(session.exec(select(Event).where(Event.type == "dunning.sent_back")).all()) == 1
    with pytest.raises(DomainError, match="n'attend plus de validation"):
        approve_steps(
            session,
            debtor_ids=[debtor.id],
            actor_id=None,
            now=NOW,
            today=TODAY,
            settings=settings,
        )


def test_emails_wait_for_office_hours(session, settings):
    debtor = make_debtor(session)
    make_contact(session, debtor)
    make_invoice(session, debtor, due_date=TODAY - timedelta(days=2))
    saturday = datetime(2026, 4, 4, 9, 0, tzinfo=NOW.tzinfo)
    report = advance_debtors(
        session, debtor_ids=[debtor.id], now=saturday, today=date(2026, 4, 4), settings=settings
    )
    assert (report.opened, report.emails, report.waiting_office_hours) == (1, 0, 1)
    monday = saturday + timedelta(days=2)
    report = advance_debtors(
        session, debtor_ids=[debtor.id], now=monday, today=monday.date(), settings=settings
    )
    assert (report.emails, report.done) == (1, 1)


def test_the_forecast_follows_each_case_forward(session, settings):
    """A case at the first call with one attempt made: two more calls (one a day), the
    second call step 10 days after, its three calls, the letter 10 days later, the formal
    notice proposed 10 days after that; a debtor with an invoice due in 12 days enters at
    the preventive email in 2 days, its reminders on days 13 (J+1) and 20 (J+8), its first
    call from day 27 (J+15)."""
    from callcenter.domain.process import forecast

    late = make_debtor(session)
    make_contact(session, late)
    make_invoice(session, late, due_date=TODAY - timedelta(days=20))
    refresh_debtors(session, debtor_ids=[late.id], now=NOW, settings=settings)
    make_call(session, late, at=NOW + timedelta(minutes=5))
    coming = make_debtor(session)
    make_contact(session, coming)
    make_invoice(session, coming, due_date=TODAY + timedelta(days=12), amount_cents=50_000)
    projected = forecast(session, today=TODAY, settings=settings)

    def days_of(kind):
        return [n for n, count in enumerate(projected.counts[kind]) for _ in range(count)]

    assert days_of("call") == [0, 1, 11, 12, 13, 27, 28, 29]
    assert days_of("letter") == [23]
    assert days_of("approval") == []  # the formal notice comes on day 33, past the 30 days
    assert days_of("email") == [2, 13, 20]
    assert projected.days[0] == TODAY and len(projected.days) == 30


def test_a_suspended_case_asks_for_nothing(session, settings):
    from callcenter.domain.process import forecast

    debtor = make_debtor(session)
    make_contact(session, debtor)
    make_invoice(session, debtor, due_date=TODAY - timedelta(days=20))
    make_promise(session, debtor, promised_date=TODAY + timedelta(days=3))
    refresh_debtors(session, debtor_ids=[debtor.id], now=NOW, settings=settings)
    projected = forecast(session, today=TODAY, settings=settings)
    assert sum(sum(values) for values in projected.counts.values()) == 0


def test_on_demo_data_every_old_debt_with_a_phone_is_called_or_held_for_a_reason(tmp_path):
    """Demo ledger, calling window open: a debtor past the first call day with a phone is in
    the queue unless the process holds it (a promise, a plan, a step done, an approval) or a
    contact rule does (window, cap, gap, callback). Being « never contacted » is no reason."""
    from callcenter.db import create_db_engine, session_scope
    from callcenter.demo import generate_demo
    from callcenter.domain.queue import refresh_all
    from callcenter.migrate import upgrade
    from callcenter.models import Contact, Debtor, Invoice

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    settings = make_settings(tmp_path, url)
    generate_demo(engine, debtors=150, seed=7, today=TEST_TODAY)
    with session_scope(engine) as session:
        refresh_all(session, now=TEST_NOW, settings=settings)
        items = {q.debtor_id: q for q in session.exec(select(QueueItem)).all()}
        phones = {c.debtor_id for c in session.exec(select(Contact)).all() if c.phone or c.mobile}
        oldest: dict[int, date] = {}
        for invoice in session.exec(select(Invoice)).all():
            workable = (
                invoice.status == "open"
                and invoice.open_amount_cents > 0
                and not invoice.disputed
                and (invoice.paused_until is None or invoice.paused_until <= TEST_TODAY)
            )
            if workable and invoice.due_date < TEST_TODAY:
                oldest[invoice.debtor_id] = min(
                    invoice.due_date, oldest.get(invoice.debtor_id, invoice.due_date)
                )
        debtors = {d.id: d for d in session.exec(select(Debtor)).all()}
    engine.dispose()
    held = ("Promesse de paiement", "Échéancier en cours", "Étape « ")
    allowed = ("Dernière tentative il y a moins de", "Plafond atteint", "Rappel convenu plus tard")
    concerned = [
        debtor_id
        for debtor_id, due in oldest.items()
        if (TEST_TODAY - due).days >= 25
        and debtor_id in phones
        and not debtors[debtor_id].do_not_call
        and not debtors[debtor_id].insolvency_status
    ]
    assert len(concerned) > 30
    ready = 0
    for debtor_id in concerned:
        item = items[debtor_id]
        if item.state in (QueueState.READY, QueueState.CLAIMED):
            ready += 1
            continue
        for reason in exclusion_labels(item.exclusion_reasons):
            assert (
                reason.startswith(held)
                or reason.startswith(allowed)
                or reason.startswith("Hors plage d'appel")
            ), (debtor_id, reason)
            assert not reason.startswith("Étape « ") or "faite" in reason or "proposée" in reason
    assert ready > len(concerned) // 2


def test_the_queue_refresh_leaves_emails_to_the_process_job(session, settings):
    """A refresh (after an outcome, an import…) opens and moves cases but writes no email:
    the job does, in its own small transactions."""
    debtor = make_debtor(session)
    make_contact(session, debtor)
    make_invoice(session, debtor, due_date=TODAY - timedelta(days=2))
    refresh_debtors(session, debtor_ids=[debtor.id], now=NOW, settings=settings)
    case = session.exec(select(DunningCase).where(DunningCase.debtor_id == debtor.id)).one()
    assert (case.step_label, case.done_at) == ("1er e-mail de relance", None)
    assert session.exec(select(OutboxEmail)).all() == []
    report = advance_debtors(
        session, debtor_ids=[debtor.id], now=NOW, today=TODAY, settings=settings
    )
    assert (report.emails, report.done) == (1, 1)


def test_the_brief_says_where_the_debtor_stands_in_its_process(session, settings):
    from callcenter.domain.brief import build_brief

    debtor = make_debtor(session)
    make_contact(session, debtor)
    make_invoice(session, debtor, due_date=TODAY - timedelta(days=200))
    refresh_debtors(session, debtor_ids=[debtor.id], now=NOW, settings=settings)

    def lines(now):
        return build_brief(
            session, debtor_id=debtor.id, today=now.date(), now=now, settings=settings
        ).process

    assert lines(NOW) == [
        "Étape du processus : « 1er appel » (J+15), atteinte le 30/03/2026",
        "Encours ancien sans historique : entré par l'étape de rattrapage.",
        "Appel 1 sur 3 à cette étape.",
    ]
    for minute in (1, 2, 3):
        make_call(session, debtor, at=NOW + timedelta(minutes=minute))
    later = NOW + timedelta(minutes=5)
    refresh_debtors(session, debtor_ids=[debtor.id], now=later, settings=settings)
    assert lines(later)[-1] == (
        "Faite le 30/03/2026 (3 appels sans réponse) ; ensuite « 2e appel » à partir du 09/04/2026."
    )


def test_a_supervisor_calls_a_case_now_instead_of_waiting_for_its_step(session, settings):
    """Invoices 20 days old at an email step: the first call would wait for the step's delay;
    a supervisor brings it forward, the queue offers it at once, the move is audited."""
    debtor = make_debtor(session)
    make_contact(session, debtor)
    make_invoice(session, debtor, due_date=TODAY - timedelta(days=3), amount_cents=90_000)
    walk = Walk(session, settings, debtor)
    item = walk.at(NOW)
    assert walk.case.step_label == "1er e-mail de relance"
    assert item.state == QueueState.EXCLUDED

    with pytest.raises(ValidationFailed) as refused:
        call_now(
            session, debtor_id=debtor.id, reason=" ", actor_id=None, now=NOW, settings=settings
        )
    assert refused.value.errors == {
        "move_reason": "Indiquez pourquoi appeler ce dossier maintenant."
    }
    with pytest.raises(ValidationFailed):
        call_now(
            session,
            debtor_id=debtor.id,
            reason="x" * 201,
            actor_id=None,
            now=NOW,
            settings=settings,
        )

    step = call_now(
        session,
        debtor_id=debtor.id,
        reason="Gros client, appel demandé par la direction",
        actor_id=None,
        now=NOW,
        settings=settings,
    )
    assert step == "1er appel"
    session.expire_all()  # the queue row was rewritten in SQL
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor.id)).one()
    assert (item.state, item.stage) == (QueueState.READY, "J+15 1er appel")
    (event,) = walk.events("dunning.moved")
    assert event.payload == {
        "step": "1er e-mail de relance",
        "to": "1er appel",
        "reason": "Gros client, appel demandé par la direction",
    }
    # the process keeps it there: attempts count from the move
    item = walk.later(minutes=5)
    assert (walk.case.step_label, walk.case.done_at, item.state) == (
        "1er appel",
        None,
        QueueState.READY,
    )
    with pytest.raises(DomainError, match="déjà à l'étape d'appel « 1er appel »"):
        call_now(
            session, debtor_id=debtor.id, reason="encore", actor_id=None, now=NOW, settings=settings
        )


def test_calling_now_is_refused_while_a_promise_holds_the_case(session, settings):
    debtor = make_debtor(session)
    make_contact(session, debtor)
    invoice = make_invoice(session, debtor, due_date=TODAY - timedelta(days=40))
    promise = make_promise(session, debtor, promised_date=TODAY + timedelta(days=5))
    session.add(PromiseInvoice(promise_id=promise.id, invoice_id=invoice.id))
    session.flush()
    refresh_debtors(session, debtor_ids=[debtor.id], now=NOW, settings=settings)
    with pytest.raises(DomainError, match="promesse de paiement ou un échéancier est en cours"):
        call_now(
            session,
            debtor_id=debtor.id,
            reason="relance",
            actor_id=None,
            now=NOW,
            settings=settings,
        )
    assert not session.exec(select(Event).where(Event.type == "dunning.moved")).all()


def test_calling_now_needs_an_open_case(session, settings):
    debtor = make_debtor(session)
    with pytest.raises(DomainError, match="pas de dossier de relance ouvert"):
        call_now(
            session,
            debtor_id=debtor.id,
            reason="relance",
            actor_id=None,
            now=NOW,
            settings=settings,
        )
