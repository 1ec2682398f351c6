"""The dunning process each debtor walks: a step is reached, its action is done, the next
step comes after the configured delay counted from that action.

The ladder of the debtor's segment is the list of steps. Rules (issue #16):

- **Entry.** A debtor with overdue (or soon due) workable invoices and no open case enters at
  the latest step its oldest invoice has reached, but never past the ladder's catch-up step
  (a call): an imported back-book is called first, not sent to litigation untouched.
- **Done.** An email step is done when its email is queued; a letter step when the letter is
  recorded; a call step when the debtor was reached after the step began, or after the step's
  number of attempts, or at once when the debtor cannot be called (no number, opposition);
  formal notice and litigation when a supervisor approves them.
- **Next.** The next step of the ladder is due ``max(1, its day − this step's day)`` days after
  the action was done, never because the calendar alone moved.
- **Suspensions.** A pending promise or a running payment plan, disputed or paused invoices
  only, and an insolvency procedure hold the case where it is. A promise or instalment broken
  after the step began resumes the case at a call step.
- **Closing.** The case closes when nothing overdue or soon due is left open.

The decision for one debtor is a pure function (:func:`decide`); :func:`advance_process`
loads the facts of many debtors in a few queries, decides, and applies the changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from callcenter.config import PHONE_ACTIONS, Settings
from callcenter.domain.audit import record_event
from callcenter.domain.debtor_locks import take_turns_on
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.queue.ladder import (
    LadderRung,
    current_ladder,
    ladder_segment,
    preventive_horizon,
    rung_position,
)
from callcenter.formatting import day
from callcenter.models import (
    Call,
    CaseStatus,
    Contact,
    Debtor,
    DunningCase,
    Event,
    Invoice,
    InvoiceStatus,
    PaymentPlan,
    Promise,
    PromiseStatus,
)

APPROVAL_ACTIONS = ("formal_notice", "litigation")
REACHED_ANSWERS = ("human", "unknown")
BROKEN_EVENTS = ("promise.broken", "instalment.broken", "payment_plan.broken")
OFFICE_HOURS = (8, 19)
CHUNK = 500


@dataclass
class Situation:
    """What the process needs to know of one debtor, loaded in bulk."""

    debtor_id: int
    segment: str
    do_not_call: bool = False
    insolvent: bool = False
    has_phone: bool = False
    live_count: int = 0
    workable_overdue_cents: int = 0
    workable_soon_cents: int = 0
    oldest_due: date | None = None
    coming_due: list[tuple[int, int]] = field(default_factory=list)
    promise_until: date | None = None
    plan_running: bool = False
    last_broken_at: datetime | None = None
    calls_since_step: int = 0
    reached_since_step: bool = False

    @property
    def workable(self) -> bool:
        return self.oldest_due is not None or bool(self.coming_due)


@dataclass(frozen=True)
class Decision:
    """One change to a debtor's case. ``kind``: open, move, done, act, close, wait."""

    kind: str
    rung: LadderRung | None = None
    note: str | None = None
    entered_by: str = "calendar"


def own_rungs(rungs: list[LadderRung], segment: str) -> list[LadderRung]:
    """The ladder a debtor follows, in order."""
    chosen = ladder_segment(segment, rungs)
    return sorted((r for r in rungs if r.segment == chosen), key=lambda r: r.position)


def catch_up_rung(own: list[LadderRung]) -> LadderRung | None:
    """The step where an old debt enters: the marked one, else the first call."""
    marked = [r for r in own if r.catch_up and r.is_phone]
    if marked:
        return marked[0]
    calls = [r for r in own if r.action == "call"]
    if calls:
        return calls[0]
    return next((r for r in own if r.is_phone), None)


def _applies(rung: LadderRung, situation: Situation) -> bool:
    cents = situation.workable_overdue_cents + situation.workable_soon_cents
    return cents >= rung.min_amount_cents


def entry_rung(
    own: list[LadderRung], situation: Situation, today: date
) -> tuple[LadderRung | None, str]:
    """The step a new case starts at, and why (``calendar`` or ``catch_up``)."""
    best: LadderRung | None = None
    if situation.oldest_due is not None:
        age = (today - situation.oldest_due).days
        for rung in own:
            if rung.offset_days <= age and situation.workable_overdue_cents >= (
                rung.min_amount_cents
            ):
                best = rung
    for days_to_due, amount in situation.coming_due:
        for rung in own:
            reached = rung.offset_days <= 0 and -days_to_due >= rung.offset_days
            bigger = best is None or rung.position > best.position
            if reached and bigger and amount >= rung.min_amount_cents:
                best = rung
    if best is None:
        return None, "calendar"
    catch = catch_up_rung(own)
    if catch is not None and best.position > catch.position:
        return catch, "catch_up"
    if catch is None and best.action in ("letter", *APPROVAL_ACTIONS):
        earlier = [r for r in own if r.action not in ("letter", *APPROVAL_ACTIONS)]
        if earlier and earlier[-1].position < best.position:
            return earlier[-1], "catch_up"
    return best, "calendar"


def next_rung(own: list[LadderRung], case: DunningCase, situation: Situation):
    """The first step after the case's one that applies to the amount owed."""
    here = rung_position(case.step_offset_days, case.step_action)
    for rung in own:
        if rung.position > here and _applies(rung, situation):
            return rung
    return None


def resume_rung(own: list[LadderRung], case: DunningCase) -> LadderRung | None:
    """Where a broken promise sends the case back: this call step, the last call before it,
    else the first call after it."""
    here = rung_position(case.step_offset_days, case.step_action)
    phones = [r for r in own if r.is_phone]
    before = [r for r in phones if r.position <= here]
    if before:
        return before[-1]
    return phones[0] if phones else None


def step_delay(rung: LadderRung, case: DunningCase) -> timedelta:
    return timedelta(days=max(1, rung.offset_days - case.step_offset_days))


def current_rung(own: list[LadderRung], case: DunningCase) -> LadderRung | None:
    """The ladder's step the case is at (None when an admin has since removed it)."""
    return next((r for r in own if r.step_id == case.step_id), None)


def decide(
    case: DunningCase | None,
    situation: Situation,
    own: list[LadderRung],
    *,
    now: datetime,
    today: date,
) -> Decision | None:
    """The next change of one debtor's case, or None (see the module's rules)."""
    if case is None or case.status == CaseStatus.CLOSED:
        if not situation.workable or situation.insolvent:
            return None
        rung, entered_by = entry_rung(own, situation, today)
        if rung is None:
            return None
        return Decision("open", rung, entered_by=entered_by)
    if situation.live_count == 0:
        return Decision("close", note="plus rien d'échu ni de proche échéance")
    if situation.insolvent:
        return None
    if situation.last_broken_at is not None and situation.last_broken_at > case.reached_at:
        rung = resume_rung(own, case)
        if rung is not None:
            return Decision("move", rung, note="engagement non tenu : reprise par un appel")
    phone_step = case.step_action in PHONE_ACTIONS
    if case.done_at is None and phone_step:
        # what happened on the phone is recorded even while the process is suspended
        rung = current_rung(own, case)
        attempts = rung.max_attempts if rung is not None else 3
        if situation.reached_since_step:
            return Decision("done", note="débiteur joint")
        if situation.calls_since_step >= attempts:
            return Decision("done", note=f"{situation.calls_since_step} appels sans réponse")
    if not situation.workable or situation.promise_until is not None or situation.plan_running:
        return None
    if case.status == CaseStatus.APPROVAL:
        return None
    if case.done_at is None:
        if phone_step:
            if situation.do_not_call:
                return Decision("done", note="opposition aux appels : étape passée")
            if not situation.has_phone:
                return Decision("done", note="aucun numéro de téléphone : étape passée")
            return None
        if case.step_action in APPROVAL_ACTIONS:
            return None
        if situation.do_not_call and case.step_action == "email":
            return Decision("done", note="opposition enregistrée : aucun e-mail")
        return Decision("act")
    rung = next_rung(own, case, situation)
    if rung is None:
        return None
    if now >= case.done_at + step_delay(rung, case):
        return Decision("move", rung)
    return None


def waiting_reason(case: DunningCase, situation: Situation, own: list[LadderRung]) -> str | None:
    """Why the process keeps this debtor off the phone for now (French, for the queue).

    The wording carries no date, so that the supervisor's counts per reason add up; the
    date of the next step is on the case (``next_due_at``).
    """
    if situation.promise_until is not None:
        return "Promesse de paiement en cours : relances suspendues jusqu'à son échéance"
    if situation.plan_running:
        return "Échéancier en cours : relances suspendues tant qu'il est suivi"
    if case.status == CaseStatus.APPROVAL:
        return f"Étape « {case.step_label} » proposée : en attente de validation"
    if case.done_at is not None and case.step_action in PHONE_ACTIONS:
        following = next_rung(own, case, situation)
        if following is None:
            return f"Étape « {case.step_label} » faite ({case.action_note})"
        return (
            f"Étape « {case.step_label} » faite ({case.action_note}) : "
            f"« {following.label} » ensuite, après le délai prévu"
        )
    return None


# --- loading -------------------------------------------------------------------------


def _chunks(ids: list[int], size: int = 1000) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def load_situations(
    session: Session,
    debtor_ids: list[int],
    cases: dict[int, DunningCase],
    *,
    today: date,
    horizon_days: int,
) -> dict[int, Situation]:
    """The facts of these debtors, a few set-based queries per thousand."""
    out: dict[int, Situation] = {}
    for ids in _chunks(debtor_ids):
        for debtor_id, segment, do_not_call, insolvency in session.execute(
            sa.select(
                Debtor.id, Debtor.segment, Debtor.do_not_call, Debtor.insolvency_status
            ).where(col(Debtor.id).in_(ids))
        ):
            out[debtor_id] = Situation(
                debtor_id=debtor_id,
                segment=segment,
                do_not_call=do_not_call,
                insolvent=bool(insolvency),
            )
        for (debtor_id,) in session.execute(
            sa.select(Contact.debtor_id)
            .distinct()
            .where(
                col(Contact.debtor_id).in_(ids),
                sa.or_(
                    sa.func.coalesce(Contact.phone, "") != "",
                    sa.func.coalesce(Contact.mobile, "") != "",
                ),
            )
        ):
            out[debtor_id].has_phone = True
        soon = today + timedelta(days=horizon_days)
        for debtor_id, due, cents, disputed, paused in session.execute(
            sa.select(
                Invoice.debtor_id,
                Invoice.due_date,
                Invoice.open_amount_cents,
                Invoice.disputed,
                Invoice.paused_until,
            ).where(
                col(Invoice.debtor_id).in_(ids),
                Invoice.status == InvoiceStatus.OPEN,
                Invoice.open_amount_cents > 0,
                Invoice.due_date <= soon,
            )
        ):
            situation = out[debtor_id]
            situation.live_count += 1
            if disputed or (paused is not None and paused > today):
                continue
            if due < today:
                situation.workable_overdue_cents += cents
                if situation.oldest_due is None or due < situation.oldest_due:
                    situation.oldest_due = due
            else:
                situation.workable_soon_cents += cents
                situation.coming_due.append(((due - today).days, cents))
        for debtor_id, promised, grace in session.execute(
            sa.select(Promise.debtor_id, Promise.promised_date, Promise.grace_days).where(
                col(Promise.debtor_id).in_(ids), Promise.status == PromiseStatus.PENDING
            )
        ):
            until = promised + timedelta(days=grace)
            situation = out[debtor_id]
            if until >= today and (
                situation.promise_until is None or until > situation.promise_until
            ):
                situation.promise_until = until
        for (debtor_id,) in session.execute(
            sa.select(PaymentPlan.debtor_id).where(
                col(PaymentPlan.debtor_id).in_(ids), PaymentPlan.status == PromiseStatus.PENDING
            )
        ):
            out[debtor_id].plan_running = True
        for debtor_id, at in session.execute(
            sa.select(Event.debtor_id, sa.func.max(Event.at))
            .where(col(Event.debtor_id).in_(ids), col(Event.type).in_(BROKEN_EVENTS))
            .group_by(Event.debtor_id)
        ):
            out[debtor_id].last_broken_at = at
        since = {i: cases[i].reached_at for i in ids if i in cases}
        if since:
            for debtor_id, created, answered, answered_by in session.execute(
                sa.select(
                    Call.debtor_id, Call.created_at, Call.answered_at, Call.answered_by
                ).where(
                    col(Call.debtor_id).in_(list(since)),
                    Call.created_at >= min(since.values()),
                )
            ):
                if created < since[debtor_id]:
                    continue
                situation = out[debtor_id]
                situation.calls_since_step += 1
                if answered is not None and (answered_by or "human") in REACHED_ANSWERS:
                    situation.reached_since_step = True
    return out


# --- applying ------------------------------------------------------------------------


@dataclass
class ProcessReport:
    opened: int = 0
    caught_up: int = 0
    moved: int = 0
    done: int = 0
    closed: int = 0
    emails: int = 0
    letters: int = 0
    proposed: int = 0
    waiting_office_hours: int = 0
    capped: int = 0

    def add(self, other: ProcessReport) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _at_contact_cap(session: Session, debtor_id: int, now: datetime, settings: Settings) -> bool:
    """With ``[queue] cap_across_channels``, a step's email waits while the debtor is at the
    queue's contact cap (weekly attempts or minimum gap), counted as the queue counts them."""
    from callcenter.domain.queue.scoring import Moments, at_contact_cap, load_facts

    moments = Moments.at(now, settings)
    facts = load_facts(session, debtor_id=debtor_id, moments=moments, settings=settings)
    return at_contact_cap(facts, moments, settings)


def in_office_hours(now: datetime, settings: Settings) -> bool:
    """Emails and letters to debtors leave on weekdays during office hours only."""
    local = now.astimezone(ZoneInfo(settings.app.timezone))
    return local.weekday() < 5 and OFFICE_HOURS[0] <= local.hour < OFFICE_HOURS[1]


def _reach(case: DunningCase, rung: LadderRung, now: datetime) -> None:
    case.step_id = rung.step_id
    case.step_offset_days = rung.offset_days
    case.step_action = rung.action
    case.step_label = rung.label[:120]
    case.reached_at = now
    case.done_at = None
    case.action_note = None
    case.next_due_at = None
    case.status = CaseStatus.APPROVAL if rung.action in APPROVAL_ACTIONS else CaseStatus.ACTIVE
    case.updated_at = now


def _mark_done(case: DunningCase, note: str | None, now: datetime, own, situation) -> None:
    case.done_at = now
    case.action_note = (note or "")[:200] or None
    case.status = CaseStatus.ACTIVE
    following = next_rung(own, case, situation)
    case.next_due_at = now + step_delay(following, case) if following is not None else None
    case.updated_at = now


def _perform(
    session: Session,
    case: DunningCase,
    own: list[LadderRung],
    *,
    now: datetime,
    today: date,
    settings: Settings,
    report: ProcessReport,
) -> str | None:
    """Do an email or letter step's action; its note, or None to try again later."""
    from callcenter.domain.letters import build_letter, record_letter
    from callcenter.domain.reminders import queue_step_email

    if not in_office_hours(now, settings):
        report.waiting_office_hours += 1
        return None
    if case.step_action == "email":
        rung = current_rung(own, case)
        if rung is None:
            return "étape retirée du scénario"
        if settings.queue.cap_across_channels and _at_contact_cap(
            session, case.debtor_id, now, settings
        ):
            report.capped += 1
            return None
        email = queue_step_email(
            session,
            debtor_id=case.debtor_id,
            rung=rung,
            ladder=own,
            today=today,
            now=now,
            settings=settings,
        )
        if email is None:
            return "aucune adresse e-mail : étape passée"
        report.emails += 1
        return f"e-mail n° {email.id}"
    if case.step_action == "letter":
        debtor = session.get(Debtor, case.debtor_id)
        try:
            letter = build_letter(
                session,
                account_code=debtor.account_code,
                kind="relance",
                today=today,
                settings=settings,
            )
        except DomainError as error:
            return error.message[:200]
        record_letter(session, letter=letter, now=now, settings=settings)
        report.letters += 1
        return "lettre de relance à imprimer"
    return "action inconnue : étape passée"


def apply_decision(
    session: Session,
    debtor_id: int,
    case: DunningCase | None,
    decision: Decision,
    situation: Situation,
    own: list[LadderRung],
    *,
    now: datetime,
    today: date,
    settings: Settings,
    report: ProcessReport,
) -> DunningCase | None:
    if decision.kind == "open":
        if case is None:
            case = DunningCase(
                debtor_id=debtor_id,
                step_action=decision.rung.action,
                step_label=decision.rung.label,
                reached_at=now,
                opened_at=now,
                updated_at=now,
            )
        case.opened_at, case.closed_at, case.entered_by = now, None, decision.entered_by
        _reach(case, decision.rung, now)
        session.add(case)
        report.opened += 1
        report.caught_up += decision.entered_by == "catch_up"
        report.proposed += case.status == CaseStatus.APPROVAL
        _event(session, case, "dunning.step_reached", now, entered_by=decision.entered_by)
        return case
    assert case is not None
    if decision.kind == "close":
        case.status, case.closed_at, case.updated_at = CaseStatus.CLOSED, now, now
        session.add(case)
        report.closed += 1
        _event(session, case, "dunning.closed", now, note=decision.note)
        return case
    if decision.kind == "move":
        _reach(case, decision.rung, now)
        session.add(case)
        report.moved += 1
        report.proposed += case.status == CaseStatus.APPROVAL
        _event(session, case, "dunning.step_reached", now, note=decision.note)
        return case
    note = decision.note
    if decision.kind == "act":
        note = _perform(
            session,
            case,
            own,
            now=now,
            today=today,
            settings=settings,
            report=report,
        )
        if note is None:
            return case
    _mark_done(case, note, now, own, situation)
    session.add(case)
    report.done += 1
    _event(session, case, "dunning.step_done", now, note=case.action_note)
    return case


def _event(session: Session, case: DunningCase, type_: str, now: datetime, **extra) -> None:
    payload = {"step": case.step_label, "action": case.step_action, "day": case.step_offset_days}
    payload.update({k: v for k, v in extra.items() if v is not None})
    record_event(session, type=type_, debtor_id=case.debtor_id, payload=payload, at=now)


def advance_debtors(
    session: Session,
    *,
    debtor_ids: Iterable[int],
    now: datetime,
    today: date,
    settings: Settings,
    act: bool = True,
    rungs: list[LadderRung] | None = None,
    max_rounds: int = 4,
) -> ProcessReport:
    """Walk these debtors' cases as far as today allows, in this transaction.

    A case may take several changes at once (opened at an email step: the email leaves, the
    step is done); each round re-reads the facts, at most ``max_rounds`` rounds. With
    ``act=False`` (the queue's refresh) emails and letters are left to the process job: a
    refresh stays quick, and the job writes them in small transactions.
    """
    report = ProcessReport()
    ids = sorted({int(i) for i in debtor_ids})
    if not ids:
        return report
    take_turns_on(session, ids)
    rungs = rungs if rungs is not None else current_ladder(session, settings)
    horizon = preventive_horizon(rungs)
    pending = ids
    for _ in range(max_rounds):
        cases = {
            c.debtor_id: c
            for chunk in _chunks(pending)
            for c in session.exec(select(DunningCase).where(col(DunningCase.debtor_id).in_(chunk)))
        }
        situations = load_situations(session, pending, cases, today=today, horizon_days=horizon)
        changed = []
        for debtor_id in pending:
            situation = situations.get(debtor_id)
            if situation is None:
                continue
            own = own_rungs(rungs, situation.segment)
            case = cases.get(debtor_id)
            decision = decide(case, situation, own, now=now, today=today)
            if decision is not None and decision.kind == "act" and not act:
                decision = None
            if decision is None:
                if case is not None and case.status != CaseStatus.CLOSED:
                    _set_hold_reason(session, case, waiting_reason(case, situation, own))
                continue
            before = (case.step_id, case.status, case.done_at) if case is not None else None
            case = apply_decision(
                session,
                debtor_id,
                case,
                decision,
                situation,
                own,
                now=now,
                today=today,
                settings=settings,
                report=report,
            )
            if case is not None and (case.step_id, case.status, case.done_at) != before:
                changed.append(debtor_id)
        session.flush()
        if not changed:
            break
        pending = changed
    return report


def _set_hold_reason(session: Session, case: DunningCase, reason: str | None) -> None:
    reason = reason[:200] if reason else None
    if case.hold_reason != reason:
        case.hold_reason = reason
        session.add(case)


def debtors_in_process_scope(session: Session, *, today: date, horizon_days: int) -> list[int]:
    """Debtors that may need a change: an open case, or an open invoice due soon or overdue."""
    soon = today + timedelta(days=horizon_days)
    with_invoices = sa.select(Invoice.debtor_id).where(
        Invoice.status == InvoiceStatus.OPEN,
        Invoice.open_amount_cents > 0,
        Invoice.due_date <= soon,
    )
    with_cases = sa.select(DunningCase.debtor_id).where(DunningCase.status != CaseStatus.CLOSED)
    rows = session.execute(sa.union(with_invoices, with_cases)).all()
    return sorted(row[0] for row in rows)


def debtors_that_time_can_change(
    session: Session, *, now: datetime, today: date, horizon_days: int
) -> list[int]:
    """The debtors whose case the clock alone may change: what a full refresh walks.

    A case changes otherwise only through an outcome, a call, an import, a payment or a
    supervisor's control, and each of those walks its own debtors at once. Here: a debtor
    with open invoices due soon or overdue and no open case (entry); a case whose next step
    is due; a case held by a promise or a plan (it may expire or break); a call step with a
    call since it began; a case with nothing left to collect (closing).
    """
    soon = today + timedelta(days=horizon_days)
    open_case = sa.and_(
        DunningCase.debtor_id == Invoice.debtor_id, DunningCase.status != CaseStatus.CLOSED
    )
    entering = sa.select(Invoice.debtor_id).where(
        Invoice.status == InvoiceStatus.OPEN,
        Invoice.open_amount_cents > 0,
        Invoice.due_date <= soon,
        ~sa.exists().where(open_case),
    )
    live_invoice = sa.exists().where(
        Invoice.debtor_id == DunningCase.debtor_id,
        Invoice.status == InvoiceStatus.OPEN,
        Invoice.open_amount_cents > 0,
        Invoice.due_date <= soon,
    )
    call_since = sa.exists().where(
        Call.debtor_id == DunningCase.debtor_id, Call.created_at >= DunningCase.reached_at
    )
    moving = sa.select(DunningCase.debtor_id).where(
        DunningCase.status != CaseStatus.CLOSED,
        sa.or_(
            DunningCase.next_due_at <= now,
            col(DunningCase.hold_reason).like("Promesse%"),
            col(DunningCase.hold_reason).like("Échéancier%"),
            sa.and_(
                col(DunningCase.done_at).is_(None),
                col(DunningCase.step_action).in_(PHONE_ACTIONS),
                call_since,
            ),
            ~live_invoice,
        ),
    )
    rows = session.execute(sa.union(entering, moving)).all()
    return sorted(row[0] for row in rows)


def advance_all(
    session: Session,
    *,
    now: datetime,
    today: date,
    settings: Settings,
    act: bool = True,
    only_time_driven: bool = False,
) -> ProcessReport:
    """Walk every debtor that may need a change, a chunk at a time (same transaction);
    with ``only_time_driven``, the debtors the clock alone may change (the queue's full
    refresh: the process job walks them all)."""
    rungs = current_ladder(session, settings)
    horizon = preventive_horizon(rungs)
    if only_time_driven:
        ids = debtors_that_time_can_change(session, now=now, today=today, horizon_days=horizon)
    else:
        ids = debtors_in_process_scope(session, today=today, horizon_days=horizon)
    report = ProcessReport()
    for chunk in _chunks(ids, CHUNK):
        report.add(
            advance_debtors(
                session,
                debtor_ids=chunk,
                now=now,
                today=today,
                settings=settings,
                act=act,
                rungs=rungs,
            )
        )
    return report


# --- a person's decision -------------------------------------------------------------


@dataclass(frozen=True)
class Approved:
    debtor_id: int
    action: str
    letter: object | None = None


def _cases_awaiting(session: Session, debtor_ids: list[int]) -> list[DunningCase]:
    ids = sorted({int(i) for i in debtor_ids})
    if not ids:
        raise DomainError("Choisissez au moins un dossier.")
    take_turns_on(session, ids)
    cases = session.exec(
        select(DunningCase)
        .where(col(DunningCase.debtor_id).in_(ids), DunningCase.status == CaseStatus.APPROVAL)
        .order_by(DunningCase.debtor_id)
    ).all()
    if len(cases) != len(ids):
        raise DomainError(
            "Un des dossiers choisis n'attend plus de validation (déjà traité ou payé) : "
            "actualisez la liste."
        )
    return list(cases)


def approve_steps(
    session: Session,
    *,
    debtor_ids: list[int],
    actor_id: int,
    now: datetime,
    today: date,
    settings: Settings,
) -> list[Approved]:
    """A supervisor approves the proposed formal notices and litigations (audited).

    A formal notice is produced at once (recorded on the timeline; its PDF is returned to
    be handed over); a litigation is recorded as handed to litigation. Each step is then
    done and the process goes on from it.
    """
    from callcenter.domain.letters import build_letter, record_letter

    rungs = current_ladder(session, settings)
    horizon = preventive_horizon(rungs)
    cases = _cases_awaiting(session, debtor_ids)
    situations = load_situations(
        session,
        [c.debtor_id for c in cases],
        {c.debtor_id: c for c in cases},
        today=today,
        horizon_days=horizon,
    )
    out = []
    for case in cases:
        situation = situations[case.debtor_id]
        letter = None
        if case.step_action == "formal_notice":
            debtor = session.get(Debtor, case.debtor_id)
            letter = build_letter(
                session,
                account_code=debtor.account_code,
                kind="mise_en_demeure",
                today=today,
                settings=settings,
            )
            record_letter(session, letter=letter, now=now, settings=settings, actor_id=actor_id)
            note = "mise en demeure validée et produite"
        else:
            note = "transmission au contentieux validée"
        _mark_done(case, note, now, own_rungs(rungs, situation.segment), situation)
        case.hold_reason = None
        session.add(case)
        record_event(
            session,
            type="dunning.approved",
            actor_id=actor_id,
            debtor_id=case.debtor_id,
            payload={"step": case.step_label, "action": case.step_action},
            at=now,
        )
        out.append(Approved(case.debtor_id, case.step_action, letter))
    session.flush()
    return out


def send_back_to_calls(
    session: Session,
    *,
    debtor_ids: list[int],
    actor_id: int,
    now: datetime,
    settings: Settings,
) -> int:
    """A supervisor declines a proposed step: the case goes back to a call step (audited)."""
    rungs = current_ladder(session, settings)
    cases = _cases_awaiting(session, debtor_ids)
    for case in cases:
        debtor = session.get(Debtor, case.debtor_id)
        own = own_rungs(rungs, debtor.segment)
        rung = resume_rung(own, case) or catch_up_rung(own)
        if rung is None:
            raise DomainError("Ce scénario n'a aucune étape d'appel : renvoi impossible.")
        label = case.step_label
        _reach(case, rung, now)
        case.hold_reason = None
        session.add(case)
        record_event(
            session,
            type="dunning.sent_back",
            actor_id=actor_id,
            debtor_id=case.debtor_id,
            payload={"step": label, "to": rung.label},
            at=now,
        )
    session.flush()
    return len(cases)


MAX_MOVE_REASON = 200


def move_to_call(
    session: Session,
    *,
    debtor_id: int,
    reason: str,
    actor_id: int,
    now: datetime,
    today: date,
    settings: Settings,
) -> str:
    """A supervisor calls a case now instead of waiting for its next step (audited).

    The case goes to the next call step of its ladder (else the last one before it), as if
    reached now: the attempts count from zero. Refused while a promise or a payment plan
    holds the case (the debtor is keeping their word), and for a case already at a call step
    that is not done. Returns the label of the call step.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationFailed({"move_reason": "Indiquez pourquoi appeler ce dossier maintenant."})
    if len(reason) > MAX_MOVE_REASON:
        raise ValidationFailed(
            {"move_reason": f"Le motif ne doit pas dépasser {MAX_MOVE_REASON} caractères."}
        )
    take_turns_on(session, [debtor_id])
    case = session.exec(
        select(DunningCase).where(
            DunningCase.debtor_id == debtor_id, DunningCase.status != CaseStatus.CLOSED
        )
    ).first()
    if case is None:
        raise DomainError("Ce débiteur n'a pas de dossier de relance ouvert.")
    rungs = current_ladder(session, settings)
    situation = load_situations(
        session, [debtor_id], {debtor_id: case}, today=today, horizon_days=preventive_horizon(rungs)
    ).get(debtor_id)
    if situation is not None and (situation.promise_until is not None or situation.plan_running):
        raise DomainError(
            "Une promesse de paiement ou un échéancier est en cours : le dossier reste suspendu."
        )
    if case.step_action in PHONE_ACTIONS and case.done_at is None:
        raise DomainError(f"Le dossier est déjà à l'étape d'appel « {case.step_label} ».")
    own = own_rungs(rungs, session.get(Debtor, debtor_id).segment)
    here = rung_position(case.step_offset_days, case.step_action)
    later_calls = [r for r in own if r.is_phone and r.position > here]
    rung = later_calls[0] if later_calls else resume_rung(own, case)
    if rung is None:
        raise DomainError("Ce scénario n'a aucune étape d'appel.")
    label = case.step_label
    _reach(case, rung, now)
    case.hold_reason = None
    session.add(case)
    record_event(
        session,
        type="dunning.moved",
        actor_id=actor_id,
        debtor_id=debtor_id,
        payload={"step": label, "to": rung.label, "reason": reason},
        at=now,
    )
    session.flush()
    return rung.label


def awaiting_approval(session: Session) -> list[tuple[DunningCase, Debtor]]:
    """The proposed formal notices and litigations, oldest proposal first."""
    return list(
        session.exec(
            select(DunningCase, Debtor)
            .join(Debtor, Debtor.id == DunningCase.debtor_id)
            .where(DunningCase.status == CaseStatus.APPROVAL)
            .order_by(DunningCase.reached_at, DunningCase.debtor_id)
        ).all()
    )


@dataclass(frozen=True)
class StepCount:
    label: str
    action: str
    offset_days: int
    active: int
    awaiting_approval: int


def cases_per_step(session: Session) -> list[StepCount]:
    """Open cases counted per step (as the cases recorded it), in ladder order."""
    rows = session.execute(
        sa.select(
            DunningCase.step_label,
            DunningCase.step_action,
            DunningCase.step_offset_days,
            DunningCase.status,
            sa.func.count(),
        )
        .where(DunningCase.status != CaseStatus.CLOSED)
        .group_by(
            DunningCase.step_label,
            DunningCase.step_action,
            DunningCase.step_offset_days,
            DunningCase.status,
        )
    ).all()
    counts: dict[tuple[str, str, int], list[int]] = {}
    for label, action, offset, status, count in rows:
        slot = counts.setdefault((label, action, offset), [0, 0])
        slot[1 if status == CaseStatus.APPROVAL else 0] += int(count)
    ordered = sorted(
        counts.items(), key=lambda item: (*rung_position(item[0][2], item[0][1]), item[0][0])
    )
    return [StepCount(label, action, offset, a, b) for (label, action, offset), (a, b) in ordered]


def approved_formal_notices(
    session: Session, *, limit: int = 200
) -> list[tuple[DunningCase, Debtor]]:
    """Cases whose formal notice was approved and which are still at that step: to print."""
    return list(
        session.exec(
            select(DunningCase, Debtor)
            .join(Debtor, Debtor.id == DunningCase.debtor_id)
            .where(
                DunningCase.status == CaseStatus.ACTIVE,
                DunningCase.step_action == "formal_notice",
                col(DunningCase.done_at).is_not(None),
            )
            .order_by(col(DunningCase.done_at).desc())
            .limit(limit)
        ).all()
    )


# --- forecast ------------------------------------------------------------------------

FORECAST_KINDS = {
    "email": "E-mails",
    "call": "Appels",
    "letter": "Lettres",
    "approval": "Validations",
}
FORECAST_DAYS = 30


def _forecast_kind(action: str) -> str:
    if action in PHONE_ACTIONS:
        return "call"
    if action in APPROVAL_ACTIONS:
        return "approval"
    return "letter" if action == "letter" else "email"


def _rung_after(own: list[LadderRung], offset: int, action: str, situation: Situation):
    here = rung_position(offset, action)
    return next((r for r in own if r.position > here and _applies(r, situation)), None)


def _ask(rung_action: str, attempts: int, start: date, last: date, out: list) -> date:
    """The work a step asks for from ``start``: one action, or one call a day per attempt."""
    kind = _forecast_kind(rung_action)
    count = max(1, attempts) if kind == "call" else 1
    for index in range(count):
        when = start + timedelta(days=index)
        if when <= last:
            out.append((when, kind))
    return start + timedelta(days=count - 1)


def project_case(
    case: DunningCase | None,
    situation: Situation,
    own: list[LadderRung],
    *,
    today: date,
    zone: ZoneInfo,
    days: int = FORECAST_DAYS,
) -> list[tuple[date, str]]:
    """What this debtor's process will ask for, day by day, if nothing else happens.

    Assumptions (stated on the page): each action is done the day it is due, a call step
    takes all its attempts (one a day: nobody answers), approvals are given the day they are
    proposed, a promise or plan running is kept (it asks for nothing), a debtor without a
    case enters at the first step of the ladder its next invoice reaches.
    """
    last = today + timedelta(days=days - 1)
    out: list[tuple[date, str]] = []
    if situation.insolvent or situation.promise_until is not None or situation.plan_running:
        return out
    if case is None or case.status == CaseStatus.CLOSED:
        start = None
        for days_to_due, amount in situation.coming_due:
            rung = next((r for r in own if amount >= r.min_amount_cents), None)
            if rung is None:
                continue
            day_ = max(today, today + timedelta(days=days_to_due + rung.offset_days))
            if start is None or day_ < start[0]:
                start = (day_, rung)
        if start is None or start[0] > last:
            return out
        offset, action = start[1].offset_days, start[1].action
        done = _ask(action, start[1].max_attempts, start[0], last, out)
    else:
        if not situation.workable:
            return out
        offset, action = case.step_offset_days, case.step_action
        rung = current_rung(own, case)
        if case.status == CaseStatus.APPROVAL:
            done = _ask(action, 1, today, last, out)
        elif case.done_at is None:
            attempts = (rung.max_attempts if rung else 3) - situation.calls_since_step
            done = _ask(action, attempts, today, last, out)
        else:
            done = case.done_at.astimezone(zone).date()
    for _ in range(len(own)):
        following = _rung_after(own, offset, action, situation)
        if following is None:
            break
        due = max(today, done + timedelta(days=max(1, following.offset_days - offset)))
        if due > last:
            break
        done = _ask(following.action, following.max_attempts, due, last, out)
        offset, action = following.offset_days, following.action
    return out


@dataclass(frozen=True)
class Forecast:
    days: list[date]
    counts: dict[str, list[int]]

    def total(self, kind: str) -> int:
        return sum(self.counts[kind])


def forecast(session: Session, *, today: date, settings: Settings) -> Forecast:
    """The emails, calls, letters and approvals the process will ask for on each of the next
    30 days, from the cases as they stand (see :func:`project_case` for the assumptions)."""
    rungs = current_ladder(session, settings)
    horizon = preventive_horizon(rungs) + FORECAST_DAYS
    zone = ZoneInfo(settings.app.timezone)
    ids = debtors_in_process_scope(session, today=today, horizon_days=horizon)
    days = [today + timedelta(days=n) for n in range(FORECAST_DAYS)]
    index = {d: n for n, d in enumerate(days)}
    counts = {kind: [0] * FORECAST_DAYS for kind in FORECAST_KINDS}
    for chunk in _chunks(ids, 2000):
        cases = {
            c.debtor_id: c
            for c in session.exec(select(DunningCase).where(col(DunningCase.debtor_id).in_(chunk)))
        }
        situations = load_situations(session, chunk, cases, today=today, horizon_days=horizon)
        for debtor_id, situation in situations.items():
            own = own_rungs(rungs, situation.segment)
            for when, kind in project_case(
                cases.get(debtor_id), situation, own, today=today, zone=zone
            ):
                counts[kind][index[when]] += 1
    return Forecast(days, counts)


def case_summary(session: Session, *, debtor_id: int, today: date, settings: Settings) -> list[str]:
    """Where the debtor stands in its process, in French, for the agent's brief."""
    case = session.exec(
        select(DunningCase).where(
            DunningCase.debtor_id == debtor_id, DunningCase.status != CaseStatus.CLOSED
        )
    ).first()
    if case is None:
        return []
    rungs = current_ladder(session, settings)
    horizon = preventive_horizon(rungs)
    situation = load_situations(
        session, [debtor_id], {debtor_id: case}, today=today, horizon_days=horizon
    )[debtor_id]
    own = own_rungs(rungs, situation.segment)
    zone = ZoneInfo(settings.app.timezone)
    step = f"« {case.step_label} » (J{case.step_offset_days:+d})"
    lines = [f"Étape du processus : {step}, atteinte le {day(case.reached_at, zone)}"]
    if case.entered_by == "catch_up":
        lines.append("Encours ancien sans historique : entré par l'étape de rattrapage.")
    if case.status == CaseStatus.APPROVAL:
        lines.append("Proposée au superviseur : en attente de validation.")
    elif case.done_at is None and case.step_action in PHONE_ACTIONS:
        rung = current_rung(own, case)
        attempts = rung.max_attempts if rung is not None else 3
        lines.append(f"Appel {situation.calls_since_step + 1} sur {attempts} à cette étape.")
    elif case.done_at is not None:
        following = next_rung(own, case, situation)
        done = f"Faite le {day(case.done_at, zone)} ({case.action_note})"
        if following is not None:
            when = day(case.done_at + step_delay(following, case), zone)
            done += f" ; ensuite « {following.label} » à partir du {when}"
        lines.append(done + ".")
    return lines
