"""The supervisors' wallboard: agents live, queue depth and today's figures.

Every figure is one documented rule computed by set-based SQL; a refresh runs a fixed
handful of queries whatever the number of agents (no query per agent). « Aujourd'hui » is
the calendar day in the company's time zone (``[app] timezone``), from local midnight to the
next one, in UTC on the database side.

* Appels du jour: calls created today, whoever placed them.
* Taux de contact utile (right-party contact): calls of the day whose disposition has
  ``right_party_contact`` ÷ calls of the day, as a percentage (none when no call).
* Promesses du jour: promises created today, cancelled ones left out: count and amount.
* Encaissé du jour: payments whose ``paid_on`` is today (every payment, promised or not).
* Promesses à échéance du jour: promises (not cancelled) whose promised date is today,
  amount promised against the amount already paid on them (``paid_cents``).
* E-mails envoyés: emails whose ``sent_at`` is today; en échec: emails now « dead »,
  waiting for a supervisor to resend them (their count falls when they are resent).
* Rappels échus: pending callbacks whose due time has come.
* Promesses non tenues en attente: broken promises with no call to the debtor since the
  promise was declared broken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import phonenumbers
import sqlalchemy as sa
import sqlalchemy.orm
from sqlmodel import Session

from callcenter.config import CockpitSettings, Settings
from callcenter.domain.aging import dso
from callcenter.domain.queue.report import Depth, depth
from callcenter.models import (
    AgentState,
    Call,
    Callback,
    CallbackStatus,
    Contact,
    Debtor,
    Disposition,
    Dispute,
    EmailStatus,
    Event,
    Invoice,
    OutboxEmail,
    Payment,
    PaymentAllocation,
    Promise,
    PromiseStatus,
    QueueItem,
    QueueState,
    Role,
    User,
)


@dataclass(frozen=True)
class Day:
    """The local calendar day and its UTC bounds ``[start, end)``."""

    today: date
    start: datetime
    end: datetime


def day_of(now: datetime, timezone: str) -> Day:
    local = now.astimezone(ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    following = (midnight + timedelta(days=1)).replace(tzinfo=None)
    end = following.replace(tzinfo=ZoneInfo(timezone))
    return Day(local.date(), midnight.astimezone(UTC), end.astimezone(UTC))


def state_level(state: str, seconds: int, thresholds: CockpitSettings) -> str:
    """« ok », « warn » (orange) or « alert » (red) for so long in a state, per ``[cockpit]``.

    En appel, post-appel, en pause: orange from the warn threshold, red from the alert one.
    Disponible: orange once idle for ``available_warn_seconds``. Hors ligne: never coloured.
    """
    limits = {
        AgentState.ON_CALL: (thresholds.on_call_warn_seconds, thresholds.on_call_alert_seconds),
        AgentState.WRAP_UP: (thresholds.wrap_up_warn_seconds, thresholds.wrap_up_alert_seconds),
        AgentState.PAUSED: (thresholds.paused_warn_seconds, thresholds.paused_alert_seconds),
        AgentState.AVAILABLE: (thresholds.available_warn_seconds, None),
    }.get(state)
    if limits is None:
        return "ok"
    warn, alert = limits
    if alert is not None and seconds >= alert:
        return "alert"
    return "warn" if seconds >= warn else "ok"


def percent(part: int, whole: int) -> Decimal | None:
    """``part`` ÷ ``whole`` × 100, one decimal, half up; None when ``whole`` is 0."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True)
class AgentTile:
    user_id: int
    full_name: str
    state: str
    pause_code: str | None
    since: datetime | None
    seconds_in_state: int
    level: str
    debtor_id: int | None
    debtor_name: str | None
    calls_today: int
    right_party_today: int


@dataclass(frozen=True)
class Figures:
    calls: int
    right_party_calls: int
    right_party_rate: Decimal | None
    promises: int
    promised_cents: int
    collected_cents: int
    due_today_promised_cents: int
    due_today_paid_cents: int
    emails_sent: int
    emails_failed: int
    callbacks_due: int
    broken_waiting: int


@dataclass(frozen=True)
class Wallboard:
    now: datetime
    day: Day
    agents: list[AgentTile]
    depth: list[Depth]
    figures: Figures


def _calls_by_agent(session: Session, day: Day) -> dict[int | None, tuple[int, int, int]]:
    """Per agent (None: no agent): calls today, right-party calls today, latest call id."""
    rpc = sa.func.sum(sa.case((Disposition.right_party_contact, 1), else_=0))
    rows = session.execute(
        sa.select(Call.agent_id, sa.func.count(), rpc, sa.func.max(Call.id))
        .select_from(Call)
        .join(Disposition, Disposition.code == Call.disposition_code, isouter=True)
        .where(Call.created_at >= day.start, Call.created_at < day.end)
        .group_by(Call.agent_id)
    ).all()
    return {agent: (int(count), int(rpc or 0), int(last)) for agent, count, rpc, last in rows}


def _agents(
    session: Session, *, now: datetime, per_agent: dict, thresholds: CockpitSettings
) -> list[AgentTile]:
    """Active agents with their claimed debtor, else the debtor of their call in progress."""
    claimed = sa.and_(
        QueueItem.claimed_by_id == User.id,
        QueueItem.state == QueueState.CLAIMED,
        QueueItem.lease_until > now,
    )
    rows = session.execute(
        sa.select(
            User.id,
            User.full_name,
            User.agent_state,
            User.pause_code,
            User.state_since,
            Debtor.id,
            Debtor.name,
        )
        .select_from(User)
        .join(QueueItem, claimed, isouter=True)
        .join(Debtor, Debtor.id == QueueItem.debtor_id, isouter=True)
        .where(User.role == Role.AGENT, User.active)
        .order_by(User.full_name, User.id)
    ).all()
    busy = (AgentState.ON_CALL, AgentState.WRAP_UP)
    latest = [
        per_agent[user_id][2]
        for user_id, _n, state, _p, _s, debtor_id, _d in rows
        if debtor_id is None and state in busy and user_id in per_agent
    ]
    on_call: dict[int, tuple[int, str]] = {}
    if latest:
        for agent_id, debtor_id, name in session.execute(
            sa.select(Call.agent_id, Debtor.id, Debtor.name)
            .join(Debtor, Debtor.id == Call.debtor_id)
            .where(Call.id.in_(latest))
        ):
            on_call[agent_id] = (debtor_id, name)
    tiles = []
    for user_id, full_name, state, pause_code, since, debtor_id, debtor_name in rows:
        if debtor_id is None and user_id in on_call:
            debtor_id, debtor_name = on_call[user_id]
        seconds = max(0, int((now - since).total_seconds())) if since else 0
        calls, rpc, _last = per_agent.get(user_id, (0, 0, 0))
        tiles.append(
            AgentTile(
                user_id=user_id,
                full_name=full_name,
                state=state,
                pause_code=pause_code,
                since=since,
                seconds_in_state=seconds,
                level=state_level(state, seconds, thresholds),
                debtor_id=debtor_id,
                debtor_name=debtor_name,
                calls_today=calls,
                right_party_today=rpc,
            )
        )
    return tiles


def _scalar(statement) -> sa.ScalarSelect:
    return statement.scalar_subquery()


def _day_figures(session: Session, *, now: datetime, day: Day) -> tuple[int, ...]:
    """The day's counters in one round trip (scalar subqueries)."""
    live = Promise.status != PromiseStatus.CANCELLED
    later_call = (
        sa.select(Call.id)
        .where(Call.debtor_id == Promise.debtor_id, Call.created_at > Promise.resolved_at)
        .exists()
    )
    zero = sa.literal(0)
    row = session.execute(
        sa.select(
            _scalar(
                sa.select(sa.func.count()).where(
                    Promise.created_at >= day.start, Promise.created_at < day.end, live
                )
            ),
            _scalar(
                sa.select(sa.func.coalesce(sa.func.sum(Promise.amount_cents), zero)).where(
                    Promise.created_at >= day.start, Promise.created_at < day.end, live
                )
            ),
            _scalar(
                sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_cents), zero)).where(
                    Payment.paid_on == day.today
                )
            ),
            _scalar(
                sa.select(sa.func.coalesce(sa.func.sum(Promise.amount_cents), zero)).where(
                    Promise.promised_date == day.today, live
                )
            ),
            _scalar(
                sa.select(sa.func.coalesce(sa.func.sum(Promise.paid_cents), zero)).where(
                    Promise.promised_date == day.today, live
                )
            ),
            _scalar(
                sa.select(sa.func.count()).where(
                    OutboxEmail.sent_at >= day.start, OutboxEmail.sent_at < day.end
                )
            ),
            _scalar(sa.select(sa.func.count()).where(OutboxEmail.status == EmailStatus.DEAD)),
            _scalar(
                sa.select(sa.func.count()).where(
                    Callback.status == CallbackStatus.PENDING, Callback.due_at <= now
                )
            ),
            _scalar(
                sa.select(sa.func.count()).where(
                    Promise.status == PromiseStatus.BROKEN, ~later_call
                )
            ),
        )
    ).one()
    return tuple(int(value or 0) for value in row)


def wallboard(session: Session, *, now: datetime, settings: Settings) -> Wallboard:
    """Everything the wallboard shows, in five queries."""
    day = day_of(now, settings.app.timezone)
    per_agent = _calls_by_agent(session, day)
    agents = _agents(session, now=now, per_agent=per_agent, thresholds=settings.cockpit)
    calls = sum(count for count, _rpc, _last in per_agent.values())
    rpc = sum(rpc for _count, rpc, _last in per_agent.values())
    (
        promises,
        promised,
        collected,
        due_promised,
        due_paid,
        sent,
        failed,
        callbacks,
        broken,
    ) = _day_figures(session, now=now, day=day)
    figures = Figures(
        calls=calls,
        right_party_calls=rpc,
        right_party_rate=percent(rpc, calls),
        promises=promises,
        promised_cents=promised,
        collected_cents=collected,
        due_today_promised_cents=due_promised,
        due_today_paid_cents=due_paid,
        emails_sent=sent,
        emails_failed=failed,
        callbacks_due=callbacks,
        broken_waiting=broken,
    )
    return Wallboard(now=now, day=day, agents=agents, depth=depth(session), figures=figures)


# --- Drill-down: one agent, one debtor, search ---------------------------------------------


def _seconds_between(session: Session, later, earlier):
    """``later − earlier`` in seconds, in SQL, on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


@dataclass(frozen=True)
class Outcome:
    code: str | None
    label: str
    calls: int


@dataclass(frozen=True)
class AgentActivity:
    """One agent over ``[start, end)``.

    Durée moyenne de traitement (handling) = moyenne de ``ended_at − answered_at`` over the
    answered calls that ended; post-appel moyen (wrap-up) = moyenne de
    ``wrap_up_ended_at − ended_at`` over the calls whose wrap-up ended.
    """

    agent: User
    calls: int
    answered: int
    right_party: int
    average_handling_seconds: int | None
    average_wrap_up_seconds: int | None
    outcomes: list[Outcome]
    recent: list[tuple[Call, str]]


def agent_activity(
    session: Session, *, agent_id: int, start: datetime, end: datetime, recent: int = 50
) -> AgentActivity | None:
    agent = session.get(User, agent_id)
    if agent is None:
        return None
    period = sa.and_(Call.agent_id == agent_id, Call.created_at >= start, Call.created_at < end)
    handling = _seconds_between(session, Call.ended_at, Call.answered_at)
    wrap_up = _seconds_between(session, Call.wrap_up_ended_at, Call.ended_at)
    answered = sa.and_(Call.answered_at.is_not(None), Call.ended_at.is_not(None))
    wrapped = sa.and_(Call.ended_at.is_not(None), Call.wrap_up_ended_at.is_not(None))
    calls, answered_calls, rpc, aht, awt = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.sum(sa.case((Call.answered_at.is_not(None), 1), else_=0)),
            sa.func.sum(sa.case((Disposition.right_party_contact, 1), else_=0)),
            sa.func.avg(sa.case((answered, handling))),
            sa.func.avg(sa.case((wrapped, wrap_up))),
        )
        .select_from(Call)
        .join(Disposition, Disposition.code == Call.disposition_code, isouter=True)
        .where(period)
    ).one()
    outcomes = [
        Outcome(code, label or ("Sans issue saisie" if code is None else code), int(count))
        for code, label, count in session.execute(
            sa.select(Call.disposition_code, Disposition.label, sa.func.count())
            .select_from(Call)
            .join(Disposition, Disposition.code == Call.disposition_code, isouter=True)
            .where(period)
            .group_by(Call.disposition_code, Disposition.label)
            .order_by(sa.func.count().desc(), Call.disposition_code)
        )
    ]
    rows = session.execute(
        sa.select(Call, Debtor.name)
        .join(Debtor, Debtor.id == Call.debtor_id)
        .where(period)
        .order_by(Call.created_at.desc(), Call.id.desc())
        .limit(recent)
    ).all()
    return AgentActivity(
        agent=agent,
        calls=int(calls),
        answered=int(answered_calls or 0),
        right_party=int(rpc or 0),
        average_handling_seconds=None if aht is None else round(float(aht)),
        average_wrap_up_seconds=None if awt is None else round(float(awt)),
        outcomes=outcomes,
        recent=[(call, name) for call, name in rows],
    )


@dataclass(frozen=True)
class Found:
    debtor_id: int
    account_code: str
    name: str
    siren: str | None
    matched: str


def search_debtors(
    session: Session, *, text: str, region: str = "FR", limit: int = 30
) -> list[Found]:
    """Debtors by name or account code (contains), SIREN (9 digits), phone, or invoice number.

    A phone is compared in E.164 (« 01 23 45 67 89 » finds « +33123456789 ») on the contacts'
    phone and mobile; an invoice number matches exactly or by its beginning.
    """
    text = text.strip()[:100]
    if not text:
        return []
    found: dict[int, Found] = {}

    def add(rows, matched: str) -> None:
        for debtor_id, code, name, siren in rows:
            found.setdefault(debtor_id, Found(debtor_id, code, name, siren, matched))

    columns = (Debtor.id, Debtor.account_code, Debtor.name, Debtor.siren)
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) == 9 and digits == text.replace(" ", ""):
        add(session.execute(sa.select(*columns).where(Debtor.siren == digits)), "SIREN")
    try:
        number = phonenumbers.parse(text, region)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        e164 = None
    if e164 and len(digits) >= 6:
        add(
            session.execute(
                sa.select(*columns)
                .join(Contact, Contact.debtor_id == Debtor.id)
                .where(sa.or_(Contact.phone == e164, Contact.mobile == e164))
                .distinct()
                .limit(limit)
            ),
            "Téléphone",
        )
    add(
        session.execute(
            sa.select(*columns)
            .join(Invoice, Invoice.debtor_id == Debtor.id)
            .where(sa.or_(Invoice.number == text, Invoice.number.startswith(text, autoescape=True)))
            .distinct()
            .limit(limit)
        ),
        "Facture",
    )
    needle = text.lower()
    add(
        session.execute(
            sa.select(*columns)
            .where(
                sa.or_(
                    sa.func.lower(Debtor.name).contains(needle, autoescape=True),
                    sa.func.lower(Debtor.account_code).contains(needle, autoescape=True),
                )
            )
            .order_by(Debtor.name)
            .limit(limit)
        ),
        "Nom ou code",
    )
    return list(found.values())[:limit]


# --- Exports: calls, promises, disputes of a period ------------------------------------------

EXPORT_BATCH = 1000
PROMISE_STATUS_LABELS = {
    PromiseStatus.PENDING: "En cours",
    PromiseStatus.KEPT: "Tenue",
    PromiseStatus.PARTIAL: "Partielle",
    PromiseStatus.BROKEN: "Non tenue",
    PromiseStatus.CANCELLED: "Annulée",
}
DISPUTE_STATUS_LABELS = {"open": "Ouvert", "resolved": "Résolu", "rejected": "Rejeté"}


def export_rows(session: Session, *, kind: str, start: datetime, end: datetime):
    """Rows (tuples of plain values) of calls, promises or disputes created in ``[start, end)``.

    Streamed by batches of ``EXPORT_BATCH`` so an export never loads a year into memory.
    """
    agent = sa.orm.aliased(User)
    if kind == "appels":
        statement = (
            sa.select(
                Call.created_at,
                Debtor.account_code,
                Debtor.name,
                agent.full_name,
                Call.to_number,
                Call.provider_status,
                Call.duration_seconds,
                Disposition.label,
                Call.non_payment_reason,
                Call.notes,
            )
            .join(Debtor, Debtor.id == Call.debtor_id)
            .join(agent, agent.id == Call.agent_id, isouter=True)
            .join(Disposition, Disposition.code == Call.disposition_code, isouter=True)
            .where(Call.created_at >= start, Call.created_at < end)
            .order_by(Call.created_at, Call.id)
        )
    elif kind == "promesses":
        statement = (
            sa.select(
                Promise.created_at,
                Debtor.account_code,
                Debtor.name,
                agent.full_name,
                Promise.amount_cents,
                Promise.promised_date,
                Promise.paid_cents,
                Promise.status,
            )
            .join(Debtor, Debtor.id == Promise.debtor_id)
            .join(agent, agent.id == Promise.agent_id, isouter=True)
            .where(Promise.created_at >= start, Promise.created_at < end)
            .order_by(Promise.created_at, Promise.id)
        )
    elif kind == "litiges":
        statement = (
            sa.select(
                Dispute.created_at,
                Debtor.account_code,
                Debtor.name,
                agent.full_name,
                Dispute.category,
                Dispute.description,
                Dispute.status,
                Dispute.resolved_at,
                Dispute.resolution,
            )
            .join(Debtor, Debtor.id == Dispute.debtor_id)
            .join(agent, agent.id == Dispute.opened_by_id, isouter=True)
            .where(Dispute.created_at >= start, Dispute.created_at < end)
            .order_by(Dispute.created_at, Dispute.id)
        )
    else:
        raise ValueError(kind)
    result = session.execute(statement.execution_options(yield_per=EXPORT_BATCH))
    for row in result:
        yield tuple(row)


# --- Results over a period: collected, promises, kept rate per agent, DSO trend, CEI ---------


@dataclass(frozen=True)
class Results:
    start: date
    end: date
    collected: list[tuple[date, int]]
    promise_outcomes: list[tuple[date, int, int, int]]
    kept_by_agent: list[tuple[str, int, int, Decimal | None]]
    dso_trend: list[tuple[date, Decimal | None]]
    cei: Decimal | None
    cei_parts: dict[str, int]


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _receivables(session: Session, as_of: date, *, current_only: bool = False) -> int:
    """Open receivables at the end of ``as_of``: invoices issued by then, less what was paid
    on them by then (allocations of payments received by then); ``current_only``: not yet due.
    """
    paid = (
        sa.select(sa.func.coalesce(sa.func.sum(PaymentAllocation.amount_cents), 0))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.invoice_id == Invoice.id, Payment.paid_on <= as_of)
        .scalar_subquery()
    )
    conditions = [Invoice.issue_date <= as_of, Invoice.status != "cancelled"]
    if current_only:
        conditions.append(Invoice.due_date > as_of)
    value = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Invoice.amount_cents - paid), 0)).where(*conditions)
    ).scalar_one()
    return max(0, int(value))


def results(session: Session, *, start: date, end: date, dso_points: int = 8) -> Results:
    """The results pages' series over ``[start, end]`` (dates inclusive).

    * Encaissé par jour: payments by ``paid_on``.
    * Promesses par jour d'échéance: kept / partial / broken (by promised date).
    * Taux de promesses tenues par chargé: kept ÷ (kept + partial + broken) of the promises
      falling due in the period (pending and cancelled ones are not judged yet).
    * DSO: the simple method of ``aging.dso`` at ``dso_points`` dates evenly spread.
    * CEI (Collection Effectiveness Index) = (encours d'ouverture + ventes à crédit de la
      période − encours de clôture) ÷ (encours d'ouverture + ventes à crédit − encours de
      clôture non échu) × 100.
    """
    days = _days(start, end)
    paid = dict(
        session.execute(
            sa.select(Payment.paid_on, sa.func.sum(Payment.amount_cents))
            .where(Payment.paid_on >= start, Payment.paid_on <= end)
            .group_by(Payment.paid_on)
        ).all()
    )
    collected = [(day, int(paid.get(day, 0) or 0)) for day in days]
    counts: dict[date, dict[str, int]] = {}
    for day, status, count in session.execute(
        sa.select(Promise.promised_date, Promise.status, sa.func.count())
        .where(
            Promise.promised_date >= start,
            Promise.promised_date <= end,
            Promise.status.in_([PromiseStatus.KEPT, PromiseStatus.PARTIAL, PromiseStatus.BROKEN]),
        )
        .group_by(Promise.promised_date, Promise.status)
    ):
        counts.setdefault(day, {})[status] = int(count)
    outcomes = [
        (
            day,
            counts.get(day, {}).get(PromiseStatus.KEPT, 0),
            counts.get(day, {}).get(PromiseStatus.PARTIAL, 0),
            counts.get(day, {}).get(PromiseStatus.BROKEN, 0),
        )
        for day in days
    ]
    kept = sa.func.sum(sa.case((Promise.status == PromiseStatus.KEPT, 1), else_=0))
    judged = sa.func.count()
    by_agent = [
        (name or "Sans chargé", int(k or 0), int(j), percent(int(k or 0), int(j)))
        for name, k, j in session.execute(
            sa.select(User.full_name, kept, judged)
            .select_from(Promise)
            .join(User, User.id == Promise.agent_id, isouter=True)
            .where(
                Promise.promised_date >= start,
                Promise.promised_date <= end,
                Promise.status.in_(
                    [PromiseStatus.KEPT, PromiseStatus.PARTIAL, PromiseStatus.BROKEN]
                ),
            )
            .group_by(User.full_name)
            .order_by(User.full_name)
        )
    ]
    points = max(2, min(dso_points, len(days)))
    step = max(1, (len(days) - 1) // (points - 1)) if len(days) > 1 else 1
    trend_days = sorted({*days[::step], end})
    trend = [(day, dso(session, as_of=day).dso_days) for day in trend_days]
    opening = _receivables(session, start - timedelta(days=1))
    sales = int(
        session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(Invoice.amount_cents), 0)).where(
                Invoice.issue_date >= start,
                Invoice.issue_date <= end,
                Invoice.status != "cancelled",
            )
        ).scalar_one()
    )
    closing = _receivables(session, end)
    closing_current = _receivables(session, end, current_only=True)
    denominator = opening + sales - closing_current
    cei = None
    if denominator > 0:
        cei = (Decimal(opening + sales - closing) * 100 / denominator).quantize(
            Decimal("0.1"), ROUND_HALF_UP
        )
    return Results(
        start=start,
        end=end,
        collected=collected,
        promise_outcomes=outcomes,
        kept_by_agent=by_agent,
        dso_trend=trend,
        cei=cei,
        cei_parts={
            "opening": opening,
            "sales": sales,
            "closing": closing,
            "closing_current": closing_current,
        },
    )


@dataclass(frozen=True)
class FlaggedSentence:
    call_id: int
    at: datetime
    agent_name: str | None
    debtor_id: int
    debtor_name: str
    phrase: str
    sentence: str
    at_seconds: float | None


def flagged_calls(session: Session, *, limit: int = 200) -> list[FlaggedSentence]:
    """Sentences of agents caught by the respect check (pressure or threat), newest first."""
    rows = session.execute(
        sa.select(Event.at, Event.payload, User.full_name, Debtor.id, Debtor.name)
        .join(Debtor, Debtor.id == Event.debtor_id)
        .join(User, User.id == Event.actor_id, isouter=True)
        .where(Event.type == "call.flagged")
        .order_by(Event.at.desc(), Event.id.desc())
        .limit(limit)
    ).all()
    return [
        FlaggedSentence(
            call_id=int(payload.get("call_id") or 0),
            at=at,
            agent_name=agent,
            debtor_id=debtor_id,
            debtor_name=debtor_name,
            phrase=str(payload.get("phrase", "")),
            sentence=str(payload.get("sentence", "")),
            at_seconds=payload.get("at_seconds"),
        )
        for at, payload, agent, debtor_id, debtor_name in rows
    ]
