"""The queue score and its reasons, and the pure-Python reference for one debtor.

Score = sum of configured components, each kept on the row as a code with its points and
arguments (``rules.py`` words them in French). The refresh
computes the same rules set-based in SQL; ``explain_debtor`` computes them here for one
debtor (the « why » panel, and tests comparing both). Every component is rounded half up to
whole points before summing, so both paths agree to the point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from callcenter.config import Settings
from callcenter.domain.errors import DomainError
from callcenter.domain.queue import eligibility as el
from callcenter.domain.queue import rules
from callcenter.domain.queue.ladder import SEGMENT_LABELS, LadderRung, load_ladder
from callcenter.domain.queue.overrides import effective_settings
from callcenter.models import (
    Call,
    Callback,
    CallbackStatus,
    CaseStatus,
    Contact,
    Debtor,
    DunningCase,
    EmailStatus,
    Invoice,
    InvoiceStatus,
    OutboxEmail,
    Promise,
    PromiseStatus,
)

REACHED_ANSWERS = ("human", "unknown")
EPSILON_DAYS = 1e-6


def whole_points(value: float) -> int:
    """Half-up rounding, the same in Python and in SQL (floor(x + 0.5))."""
    return math.floor(value + 0.5)


@dataclass(frozen=True)
class Moments:
    """Every time boundary of one refresh, derived once from ``now``."""

    now: datetime
    today: date
    day_start: datetime
    week_start: datetime
    gap_start: datetime
    reassign_before: datetime

    @classmethod
    def at(cls, now: datetime, settings: Settings) -> Moments:
        if now.tzinfo is None:
            raise ValueError("now doit être une date-heure avec fuseau")
        local = now.astimezone(ZoneInfo(settings.app.timezone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        queue = settings.queue
        return cls(
            now=now.astimezone(UTC),
            today=local.date(),
            day_start=midnight.astimezone(UTC),
            week_start=now.astimezone(UTC) - timedelta(days=7),
            gap_start=now.astimezone(UTC) - timedelta(hours=queue.min_hours_between_attempts),
            reassign_before=now.astimezone(UTC)
            - timedelta(minutes=queue.callback_reassign_minutes),
        )


@dataclass
class DebtorFacts:
    """What the rules need to know about one debtor."""

    segment: str = "standard"
    time_zone: str = "Europe/Paris"
    risk: int = 0
    do_not_call: bool = False
    insolvency_status: str | None = None
    has_phone: bool = False
    open_count: int = 0
    workable_count: int = 0
    overdue_count: int = 0
    overdue_cents: int = 0
    oldest_due: date | None = None
    coming_due: list[tuple[int, int]] = field(default_factory=list)
    week_attempts: int = 0
    today_attempts: int = 0
    last_attempt_at: datetime | None = None
    last_call_at: datetime | None = None
    reached: bool = False
    broken_promises: int = 0
    promise_due_today: bool = False
    callback_due: bool = False
    callback_later: bool = False
    step_id: int | None = None
    hold_reason: str | None = None


@dataclass(frozen=True)
class Explanation:
    score: int
    reasons: list[dict]
    exclusions: list[str]
    stage: LadderRung | None

    @property
    def eligible(self) -> bool:
        return not self.exclusions

    @property
    def reason_lines(self) -> list[dict]:
        return rules.reason_lines(self.reasons)

    @property
    def exclusion_lines(self) -> list[str]:
        return rules.exclusion_labels(self.exclusions)


def reasons_for(facts: DebtorFacts, moments: Moments, settings: Settings) -> list[dict]:
    """Each non-zero score component, coded (``rules.reason_lines`` words it), in a fixed
    order."""
    q = settings.queue
    found: list[dict] = []
    if facts.overdue_cents > 0:
        points = whole_points(q.points_per_log_euro * math.log(1 + facts.overdue_cents / 100))
        found.append(rules.component("amount", points, facts.overdue_cents))
    if facts.overdue_count > 0 and facts.oldest_due is not None:
        age = (moments.today - facts.oldest_due).days
        points = whole_points(q.points_per_overdue_day * min(age, q.max_overdue_days))
        found.append(rules.component("age", points, facts.overdue_count, age))
    if facts.broken_promises:
        k = facts.broken_promises
        found.append(rules.component("broken", whole_points(q.points_per_broken_promise * k), k))
    if facts.promise_due_today:
        found.append(rules.component("promise_today", whole_points(q.points_promise_due_today)))
    if facts.callback_due:
        found.append(rules.component("callback_due", whole_points(q.points_callback_due)))
    if not facts.reached:
        found.append(rules.component("never_reached", whole_points(q.points_never_reached)))
    if facts.last_call_at is None:
        points = whole_points(q.points_per_day_since_contact * q.max_days_since_contact)
        found.append(rules.component("never_called", points))
    else:
        days = math.floor((moments.now - facts.last_call_at).total_seconds() / 86400 + EPSILON_DAYS)
        points = whole_points(q.points_per_day_since_contact * min(days, q.max_days_since_contact))
        found.append(rules.component("since_call", points, days))
    if facts.segment in SEGMENT_LABELS and facts.segment in q.segment_points:
        points = whole_points(q.segment_points[facts.segment])
        found.append(rules.component("segment", points, facts.segment))
    if facts.risk:
        points = whole_points(q.points_per_risk * facts.risk)
        found.append(rules.component("risk", points, facts.risk))
    if facts.today_attempts:
        k = facts.today_attempts
        points = -whole_points(q.penalty_per_attempt_today * k)
        found.append(rules.component("today_attempts", points, k))
    return [item for item in found if item["points"] != 0]


def weekly_cap_reached(facts: DebtorFacts, settings: Settings) -> bool:
    """Attempts on 7 rolling days (calls, and sent emails with ``cap_across_channels``)."""
    return facts.week_attempts >= settings.queue.max_attempts_per_week


def too_soon_after_last_attempt(facts: DebtorFacts, moments: Moments, settings: Settings) -> bool:
    """The minimum gap between two attempts has not passed yet."""
    return (
        facts.last_attempt_at is not None
        and settings.queue.min_hours_between_attempts > 0
        and facts.last_attempt_at > moments.gap_start
    )


def at_contact_cap(facts: DebtorFacts, moments: Moments, settings: Settings) -> bool:
    """The debtor may not be contacted again yet (weekly cap or minimum gap)."""
    return weekly_cap_reached(facts, settings) or too_soon_after_last_attempt(
        facts, moments, settings
    )


def exclusions_for(
    facts: DebtorFacts,
    stage: LadderRung | None,
    window: el.Window,
    moments: Moments,
    settings: Settings,
) -> list[str]:
    """Every reason the debtor may not be called now, coded, in a fixed order."""
    q = settings.queue
    out: list[str] = []
    if not window.open:
        out.append(rules.exclusion("closed", window.reason or ""))
    if facts.do_not_call:
        out.append(rules.exclusion("do_not_call"))
    if facts.insolvency_status:
        out.append(rules.exclusion("insolvency", facts.insolvency_status))
    if facts.open_count == 0:
        out.append(rules.exclusion("nothing_open"))
    elif facts.workable_count == 0:
        out.append(rules.exclusion("all_blocked"))
    elif not facts.callback_due:
        if facts.hold_reason:
            out.append(rules.exclusion("hold", facts.hold_reason))
        elif stage is None:
            out.append(rules.exclusion("no_stage"))
        elif not stage.is_phone:
            out.append(rules.exclusion("not_phone_stage", stage.label))
    if stage is not None and stage.campaign_paused:
        out.append(rules.exclusion("campaign_paused"))
    if not facts.has_phone:
        out.append(rules.exclusion("no_phone"))
    if facts.callback_later and not facts.callback_due:
        out.append(rules.exclusion("callback_later"))
    if weekly_cap_reached(facts, settings):
        cap = f"{facts.week_attempts}/{q.max_attempts_per_week}"
        out.append(rules.exclusion("weekly_cap", cap))
    if not facts.callback_due and too_soon_after_last_attempt(facts, moments, settings):
        out.append(rules.exclusion("min_gap", hours_text(q.min_hours_between_attempts)))
    return out


def hours_text(hours: float) -> str:
    return f"{hours:g}".replace(".", ",")


def load_facts(session: Session, *, debtor_id: int, moments: Moments, settings: Settings):
    """The facts of one debtor, read row by row (reference path, not for bulk use)."""
    debtor = session.get(Debtor, debtor_id)
    if debtor is None:
        raise DomainError("Débiteur introuvable.")
    today = moments.today
    facts = DebtorFacts(
        segment=debtor.segment,
        time_zone=debtor.time_zone,
        risk=debtor.risk,
        do_not_call=debtor.do_not_call,
        insolvency_status=debtor.insolvency_status or None,
    )
    phones = session.exec(
        select(sa.func.count())
        .select_from(Contact)
        .where(
            Contact.debtor_id == debtor_id,
            sa.or_(
                sa.func.coalesce(Contact.phone, "") != "",
                sa.func.coalesce(Contact.mobile, "") != "",
            ),
        )
    ).one()
    facts.has_phone = phones > 0
    invoices = session.exec(
        select(Invoice).where(
            Invoice.debtor_id == debtor_id,
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.open_amount_cents > 0,
        )
    ).all()
    for invoice in invoices:
        facts.open_count += 1
        if invoice.disputed or (invoice.paused_until and invoice.paused_until > today):
            continue
        facts.workable_count += 1
        if invoice.due_date < today:
            facts.overdue_count += 1
            facts.overdue_cents += invoice.open_amount_cents
            if facts.oldest_due is None or invoice.due_date < facts.oldest_due:
                facts.oldest_due = invoice.due_date
        else:
            facts.coming_due.append(((invoice.due_date - today).days, invoice.open_amount_cents))
    calls = session.exec(select(Call).where(Call.debtor_id == debtor_id)).all()
    attempts = [c.created_at for c in calls]
    facts.reached = any(
        c.answered_at is not None and (c.answered_by or "human") in REACHED_ANSWERS for c in calls
    )
    facts.last_call_at = max(attempts, default=None)
    facts.today_attempts = sum(1 for at in attempts if at >= moments.day_start)
    if settings.queue.cap_across_channels:
        attempts += [
            e.sent_at
            for e in session.exec(
                select(OutboxEmail).where(
                    OutboxEmail.debtor_id == debtor_id, OutboxEmail.status == EmailStatus.SENT
                )
            )
            if e.sent_at is not None
        ]
    facts.week_attempts = sum(1 for at in attempts if at >= moments.week_start)
    facts.last_attempt_at = max(attempts, default=None)
    promises = session.exec(select(Promise).where(Promise.debtor_id == debtor_id)).all()
    facts.broken_promises = sum(1 for p in promises if p.status == PromiseStatus.BROKEN)
    facts.promise_due_today = any(
        p.status == PromiseStatus.PENDING and p.promised_date == today for p in promises
    )
    callbacks = session.exec(
        select(Callback).where(
            Callback.debtor_id == debtor_id, Callback.status == CallbackStatus.PENDING
        )
    ).all()
    facts.callback_due = any(c.due_at <= moments.now for c in callbacks)
    facts.callback_later = any(c.due_at > moments.now for c in callbacks)
    case = session.exec(
        select(DunningCase).where(
            DunningCase.debtor_id == debtor_id, DunningCase.status != CaseStatus.CLOSED
        )
    ).first()
    if case is not None:
        facts.step_id, facts.hold_reason = case.step_id, case.hold_reason
    return facts


def explain_facts(
    facts: DebtorFacts, *, rungs: list[LadderRung], moments: Moments, settings: Settings
) -> Explanation:
    """Score, reasons, stage and exclusions of one debtor from its facts."""
    stage = next((r for r in rungs if facts.step_id and r.step_id == facts.step_id), None)
    window = el.calling_window(facts.time_zone, moments.now, settings.queue)
    reasons = reasons_for(facts, moments, settings)
    return Explanation(
        score=sum(r["points"] for r in reasons),
        reasons=reasons,
        exclusions=exclusions_for(facts, stage, window, moments, settings),
        stage=stage,
    )


def explain_debtor(
    session: Session, *, debtor_id: int, now: datetime, settings: Settings
) -> Explanation:
    """Why this debtor is (or is not) in the queue, computed in Python from its rows."""
    settings = effective_settings(session, settings)
    moments = Moments.at(now, settings)
    facts = load_facts(session, debtor_id=debtor_id, moments=moments, settings=settings)
    return explain_facts(facts, rungs=load_ladder(session), moments=moments, settings=settings)
