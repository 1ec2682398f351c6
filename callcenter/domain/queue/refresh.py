"""Set-based refresh of the queue: one INSERT … SELECT … ON CONFLICT for any number of debtors.

Aggregates per debtor (invoices, calls, e-mails, promises, callbacks, contacts) are computed in
SQL, then the score components and every exclusion, as codes and numbers only (``rules.py``
words them in French when a page reads them), and the rows are upserted into
``queue_items``. A row claimed under a live lease stays claimed; a row set aside by « passer »
keeps its ``next_eligible_at``. The calling window, which depends on ``now``, is computed in
Python once per time zone and joined in as a small VALUES table. The rules are the same as the
Python reference in ``scoring.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from callcenter.config import Settings
from callcenter.domain.queue import eligibility as el
from callcenter.domain.queue import rules
from callcenter.domain.queue.ladder import (
    DEFAULT_SEGMENT,
    SEGMENT_LABELS,
    LadderRung,
    current_ladder,
)
from callcenter.domain.queue.overrides import effective_settings
from callcenter.domain.queue.scoring import EPSILON_DAYS, Moments, hours_text
from callcenter.models import UTCDateTime

FULL_REFRESH_WORK_MEM = "128MB"
SUBSET_STATEMENT_LIMIT = 5_000


@dataclass(frozen=True)
class RefreshReport:
    debtors: int
    ready: int
    excluded: int


def _js(text: str) -> str:
    """A JSON string body (no surrounding quotes) for SQL-side concatenation."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _item(text: str) -> str:
    return f'"{_js(text)}",'


class _Dialect:
    def __init__(self, postgres: bool) -> None:
        self.pg = postgres

    def days(self, later: str, earlier: str) -> str:
        """Whole days between two dates."""
        if self.pg:
            return f"({later} - {earlier})"
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"

    def days_since(self, moment: str, earlier: str) -> str:
        if self.pg:
            return (
                f"CAST(FLOOR(EXTRACT(EPOCH FROM ({moment} - {earlier})) / 86400.0"
                f" + {EPSILON_DAYS}) AS INTEGER)"
            )
        return (
            f"CAST(FLOOR(julianday({moment}) - julianday({earlier}) + {EPSILON_DAYS}) AS INTEGER)"
        )

    def json(self, text: str) -> str:
        return f"CAST({text} AS JSON)" if self.pg else text

    def in_ids(self, column: str) -> str:
        if self.pg:
            return f"{column} = ANY(:ids)"
        return f"{column} IN (SELECT value FROM json_each(:ids))"

    def today(self) -> str:
        return "CAST(:today AS DATE)" if self.pg else ":today"

    def now(self) -> str:
        return "CAST(:now AS TIMESTAMP)" if self.pg else ":now"


def _esc(expr: str) -> str:
    """JSON-escape a text column inside SQL."""
    return f"replace(replace({expr}, '\\', '\\\\'), '\"', '\\\"')"


def _code(code: str, argument: str | None = None) -> str:
    """SQL for one stored exclusion (``rules.exclusion``) as a JSON array item."""
    rules.exclusion(code)  # an unknown code fails here, not on a page
    if argument is None:
        return f"'\"{code}\",'"
    return f"'\"{code}:' || {argument} || '\",'"


def _component(code: str, points: str, *args: str) -> str:
    """SQL for one stored score component (``rules.component``), left out at zero points."""
    if code not in rules.SCORE_WORDING:
        raise KeyError(code)
    listed = " || ',' || ".join(args) if args else "''"
    return (
        f'CASE WHEN {points} <> 0 THEN \'{{"code":"{code}","points":\' ||'
        f" CAST({points} AS TEXT) || ',\"args\":[' || {listed} || ']}},' ELSE '' END"
    )


def _values(name: str, columns: list[str], rows: list[tuple], params: dict) -> str:
    parts = []
    for index, row in enumerate(rows):
        names = []
        for column, value in zip(columns, row, strict=True):
            key = f"{name}_{column}_{index}"
            params[key] = value
            names.append(f":{key}")
        parts.append(f"({', '.join(names)})")
    return f"{name}({', '.join(columns)}) AS (VALUES {', '.join(parts)})"


def _text(
    rungs: list[LadderRung],
    zones: dict[str, str | None],
    d: _Dialect,
    subset: bool,
    settings: Settings,
    params: dict,
) -> str:
    q = settings.queue
    steps_rows = [
        (
            r.rank,
            r.segment,
            r.offset_days,
            r.min_amount_cents,
            int(r.is_phone),
            r.campaign_id or 0,
            int(r.campaign_paused),
            _js(r.label),
            r.stage,
            r.step_id or 0,
        )
        for r in rungs
    ]
    steps = _values(
        "steps",
        ["rnk", "seg", "off", "min_cents", "phone", "campaign", "paused", "label", "stage", "sid"],
        steps_rows,
        params,
    )
    zone_rows = [
        (zone, _item(rules.exclusion("closed", reason)) if reason else "")
        for zone, reason in zones.items()
    ] or [("", "")]
    zone_cte = _values("zones", ["tz", "closed"], zone_rows, params)
    segments = sorted({r.segment for r in rungs})
    params.update({f"seg_{i}": s for i, s in enumerate(segments)})
    seg_list = ", ".join(f":seg_{i}" for i in range(len(segments)))
    params["default_segment"] = DEFAULT_SEGMENT

    def only(column: str) -> str:
        return f"AND {d.in_ids(column)}" if subset else ""

    today, now = d.today(), d.now()
    workable = f"NOT i.disputed AND (i.paused_until IS NULL OR i.paused_until <= {today})"
    emails = ""
    if q.cap_across_channels:
        emails = f"""
        UNION ALL
        SELECT e.debtor_id, e.sent_at AS at, 0 AS is_call, 0 AS reached
        FROM outbox_emails e
        WHERE e.status = 'sent' AND e.sent_at IS NOT NULL {only("e.debtor_id")}"""
    segment_cases = " ".join(
        f"WHEN '{s}' THEN {float(points)!r}"
        for s, points in q.segment_points.items()
        if s in SEGMENT_LABELS
    )
    for key, value in {
        "w_amount": q.points_per_log_euro,
        "w_day": q.points_per_overdue_day,
        "max_days": q.max_overdue_days,
        "w_broken": q.points_per_broken_promise,
        "w_promise": q.points_promise_due_today,
        "w_callback": q.points_callback_due,
        "w_never": q.points_never_reached,
        "w_contact": q.points_per_day_since_contact,
        "max_contact": q.max_days_since_contact,
        "w_risk": q.points_per_risk,
        "w_today": q.penalty_per_attempt_today,
        "max_week": q.max_attempts_per_week,
        "gap_on": 1 if q.min_hours_between_attempts > 0 else 0,
        "gap_hours": hours_text(q.min_hours_between_attempts),
    }.items():
        params[key] = value
    exclusions = " || ".join(
        [
            "COALESCE(f.closed, '')",
            f"CASE WHEN f.do_not_call THEN {_code('do_not_call')} ELSE '' END",
            "CASE WHEN f.insolvency_status IS NOT NULL AND f.insolvency_status <> ''"
            f" THEN {_code('insolvency', _esc('f.insolvency_status'))} ELSE '' END",
            f"""CASE WHEN f.open_count = 0 THEN {_code("nothing_open")}
                WHEN f.workable_count = 0 THEN {_code("all_blocked")}
                WHEN f.callback_due = 1 THEN ''
                WHEN f.hold_reason IS NOT NULL THEN {_code("hold", _esc("f.hold_reason"))}
                WHEN st.rnk IS NULL THEN {_code("no_stage")}
                WHEN st.phone = 0 THEN {_code("not_phone_stage", "st.label")}
                ELSE '' END""",
            f"CASE WHEN st.paused = 1 THEN {_code('campaign_paused')} ELSE '' END",
            f"CASE WHEN f.has_phone = 0 THEN {_code('no_phone')} ELSE '' END",
            "CASE WHEN f.callback_later = 1 AND f.callback_due = 0"
            f" THEN {_code('callback_later')} ELSE '' END",
            "CASE WHEN f.week_attempts >= :max_week THEN "
            + _code(
                "weekly_cap",
                f"CAST(f.week_attempts AS TEXT) || '/{q.max_attempts_per_week:d}'",
            )
            + " ELSE '' END",
            "CASE WHEN :gap_on = 1 AND f.callback_due = 0 AND f.last_attempt_at > :gap_start"
            f" THEN {_code('min_gap', ':gap_hours')} ELSE '' END",
        ]
    )
    integer = "CAST({} AS TEXT)".format
    reasons = " || ".join(
        [
            _component("amount", "p.p_amount", integer("f.overdue_cents")),
            _component("age", "p.p_age", integer("f.overdue_count"), integer("f.age")),
            _component("broken", "p.p_broken", integer("f.broken")),
            _component("promise_today", "p.p_promise"),
            _component("callback_due", "p.p_callback"),
            _component("never_reached", "p.p_never"),
            "CASE WHEN f.last_call_at IS NULL THEN "
            + _component("never_called", "p.p_contact")
            + " ELSE "
            + _component("since_call", "p.p_contact", integer("f.since_call"))
            + " END",
            _component("segment", "p.p_segment", "'\"' || " + _esc("f.segment") + " || '\"'"),
            _component("risk", "p.p_risk", integer("f.risk")),
            _component("today_attempts", "p.p_today", integer("f.today_attempts")),
        ]
    )
    return f"""
WITH {steps},
{zone_cte},
target AS (
    SELECT d.id, d.segment, d.risk, d.do_not_call, d.insolvency_status, d.time_zone,
           CASE WHEN d.segment IN ({seg_list}) THEN d.segment ELSE :default_segment END AS ladder
    FROM debtors d WHERE 1 = 1 {only("d.id")}
),
inv AS (
    SELECT i.debtor_id,
           COUNT(*) AS open_count,
           SUM(CASE WHEN {workable} THEN 1 ELSE 0 END) AS workable_count,
           SUM(CASE WHEN {workable} AND i.due_date < {today} THEN 1 ELSE 0 END) AS overdue_count,
           SUM(CASE WHEN {workable} AND i.due_date < {today} THEN i.open_amount_cents ELSE 0 END)
               AS overdue_cents,
           MIN(CASE WHEN {workable} AND i.due_date < {today} THEN i.due_date END) AS oldest_due
    FROM invoices i
    WHERE i.status = 'open' AND i.open_amount_cents > 0 {only("i.debtor_id")}
    GROUP BY i.debtor_id
),
cases AS (
    SELECT dc.debtor_id, dc.step_id, dc.hold_reason FROM dunning_cases dc
    WHERE dc.status <> 'closed' {only("dc.debtor_id")}
),
attempts AS (
    SELECT c.debtor_id, c.created_at AS at, 1 AS is_call,
           CASE WHEN c.answered_at IS NOT NULL
                 AND COALESCE(c.answered_by, 'human') IN ('human', 'unknown') THEN 1 ELSE 0 END
               AS reached
    FROM calls c WHERE 1 = 1 {only("c.debtor_id")}{emails}
),
att AS (
    SELECT debtor_id,
           SUM(CASE WHEN at >= :week_start THEN 1 ELSE 0 END) AS week_attempts,
           SUM(CASE WHEN is_call = 1 AND at >= :day_start THEN 1 ELSE 0 END) AS today_attempts,
           MAX(at) AS last_attempt_at,
           MAX(CASE WHEN is_call = 1 THEN at END) AS last_call_at,
           MAX(reached) AS reached
    FROM attempts GROUP BY debtor_id
),
prom AS (
    SELECT debtor_id,
           SUM(CASE WHEN status = 'broken' THEN 1 ELSE 0 END) AS broken,
           MAX(CASE WHEN status = 'pending' AND promised_date = {today} THEN 1 ELSE 0 END)
               AS due_today
    FROM promises WHERE status IN ('broken', 'pending') {only("debtor_id")}
    GROUP BY debtor_id
),
cb AS (
    SELECT debtor_id,
           MAX(CASE WHEN due_at <= :now THEN 1 ELSE 0 END) AS due,
           MAX(CASE WHEN due_at > :now THEN 1 ELSE 0 END) AS later
    FROM callbacks WHERE status = 'pending' {only("debtor_id")}
    GROUP BY debtor_id
),
phones AS (
    SELECT DISTINCT debtor_id FROM contacts
    WHERE (COALESCE(phone, '') <> '' OR COALESCE(mobile, '') <> '') {only("debtor_id")}
),
f AS (
    SELECT t.id, t.segment, t.risk, t.do_not_call, t.insolvency_status, z.closed,
           COALESCE(a.open_count, 0) AS open_count,
           COALESCE(a.workable_count, 0) AS workable_count,
           COALESCE(a.overdue_count, 0) AS overdue_count,
           COALESCE(a.overdue_cents, 0) AS overdue_cents,
           CASE WHEN a.oldest_due IS NULL THEN NULL ELSE {d.days(today, "a.oldest_due")} END
               AS age,
           COALESCE(x.week_attempts, 0) AS week_attempts,
           COALESCE(x.today_attempts, 0) AS today_attempts,
           x.last_attempt_at, x.last_call_at,
           CASE WHEN x.last_call_at IS NULL THEN NULL
                ELSE {d.days_since(now, "x.last_call_at")} END AS since_call,
           COALESCE(x.reached, 0) AS reached,
           COALESCE(pr.broken, 0) AS broken,
           COALESCE(pr.due_today, 0) AS promise_today,
           COALESCE(c.due, 0) AS callback_due,
           COALESCE(c.later, 0) AS callback_later,
           CASE WHEN ph.debtor_id IS NULL THEN 0 ELSE 1 END AS has_phone,
           cs.rnk AS stage_rank, dc.hold_reason
    FROM target t
    LEFT JOIN zones z ON z.tz = t.time_zone
    LEFT JOIN inv a ON a.debtor_id = t.id
    LEFT JOIN cases dc ON dc.debtor_id = t.id LEFT JOIN steps cs ON cs.sid = dc.step_id
    LEFT JOIN att x ON x.debtor_id = t.id
    LEFT JOIN prom pr ON pr.debtor_id = t.id
    LEFT JOIN cb c ON c.debtor_id = t.id
    LEFT JOIN phones ph ON ph.debtor_id = t.id
),
p AS (
    SELECT f.id,
           CASE WHEN f.overdue_cents > 0 THEN CAST(FLOOR(:w_amount
                * LN(1 + CAST(f.overdue_cents AS DOUBLE PRECISION) / 100) + 0.5) AS INTEGER)
                ELSE 0 END AS p_amount,
           CASE WHEN f.overdue_count > 0 AND f.age IS NOT NULL THEN CAST(FLOOR(:w_day
                * (CASE WHEN f.age < :max_days THEN f.age ELSE :max_days END) + 0.5) AS INTEGER)
                ELSE 0 END AS p_age,
           CAST(FLOOR(:w_broken * f.broken + 0.5) AS INTEGER) AS p_broken,
           CASE WHEN f.promise_today = 1 THEN CAST(FLOOR(:w_promise + 0.5) AS INTEGER)
                ELSE 0 END AS p_promise,
           CASE WHEN f.callback_due = 1 THEN CAST(FLOOR(:w_callback + 0.5) AS INTEGER)
                ELSE 0 END AS p_callback,
           CASE WHEN f.reached = 0 THEN CAST(FLOOR(:w_never + 0.5) AS INTEGER) ELSE 0 END
               AS p_never,
           CAST(FLOOR(:w_contact * (CASE WHEN f.since_call IS NULL OR f.since_call > :max_contact
                THEN :max_contact ELSE f.since_call END) + 0.5) AS INTEGER) AS p_contact,
           CAST(FLOOR(COALESCE(CASE f.segment {segment_cases or "WHEN NULL THEN NULL"} END, 0)
                + 0.5) AS INTEGER) AS p_segment,
           CAST(FLOOR(:w_risk * f.risk + 0.5) AS INTEGER) AS p_risk,
           -CAST(FLOOR(:w_today * f.today_attempts + 0.5) AS INTEGER) AS p_today
    FROM f
),
o AS (
    SELECT f.id AS debtor_id,
           CASE WHEN st.campaign = 0 THEN NULL ELSE st.campaign END AS campaign_id,
           st.stage,
           p.p_amount + p.p_age + p.p_broken + p.p_promise + p.p_callback + p.p_never
               + p.p_contact + p.p_segment + p.p_risk + p.p_today AS score,
           '[' || rtrim({reasons}, ',') || ']' AS reasons,
           '[' || rtrim({exclusions}, ',') || ']' AS exclusions
    FROM f JOIN p ON p.id = f.id LEFT JOIN steps st ON st.rnk = f.stage_rank
)
INSERT INTO queue_items (debtor_id, campaign_id, stage, score, reasons, state,
                         exclusion_reasons, refreshed_at)
SELECT o.debtor_id, o.campaign_id, o.stage, o.score, {d.json("o.reasons")},
       CASE WHEN o.exclusions = '[]' THEN 'ready' ELSE 'excluded' END,
       {d.json("o.exclusions")}, :now
FROM o WHERE 1 = 1
ON CONFLICT (debtor_id) DO UPDATE SET
    campaign_id = excluded.campaign_id,
    stage = excluded.stage,
    score = excluded.score,
    reasons = excluded.reasons,
    exclusion_reasons = excluded.exclusion_reasons,
    refreshed_at = excluded.refreshed_at,
    state = CASE WHEN queue_items.state = 'claimed' AND queue_items.lease_until > :now
                 THEN 'claimed' ELSE excluded.state END,
    claimed_by_id = CASE WHEN queue_items.state = 'claimed' AND queue_items.lease_until > :now
                         THEN queue_items.claimed_by_id END,
    claimed_at = CASE WHEN queue_items.state = 'claimed' AND queue_items.lease_until > :now
                      THEN queue_items.claimed_at END,
    lease_until = CASE WHEN queue_items.state = 'claimed' AND queue_items.lease_until > :now
                       THEN queue_items.lease_until END,
    next_eligible_at = CASE WHEN queue_items.next_eligible_at > :now
                            THEN queue_items.next_eligible_at END
"""


def _zones(
    session: Session, d: _Dialect, ids: list[int] | None, now: datetime, settings: Settings
) -> dict[str, str | None]:
    sql = "SELECT DISTINCT time_zone FROM debtors"
    params: dict = {}
    if ids is not None:
        sql += " WHERE " + d.in_ids("id")
        params["ids"] = _ids_param(d, ids)
    zones = [row[0] for row in session.execute(sa.text(sql), params)]
    out = {}
    for zone in zones:
        window = el.calling_window(zone, now, settings.queue)
        out[zone] = None if window.open else window.reason
    return out


def _ids_param(d: _Dialect, ids: list[int]):
    return list(ids) if d.pg else json.dumps(list(ids))


@lru_cache(maxsize=64)
def _statement(sql: str) -> sa.TextClause:
    """The parsed statement of one SQL text (parsing the long text costs milliseconds, and
    an incremental refresh of one debtor repeats the same text)."""
    return sa.text(sql).bindparams(
        sa.bindparam("now", type_=UTCDateTime()),
        sa.bindparam("day_start", type_=UTCDateTime()),
        sa.bindparam("week_start", type_=UTCDateTime()),
        sa.bindparam("gap_start", type_=UTCDateTime()),
        sa.bindparam("today", type_=sa.Date()),
    )


def _run(
    session: Session,
    ids: list[int] | None,
    now: datetime,
    settings: Settings,
    rungs: list[LadderRung],
) -> int:
    settings = effective_settings(session, settings)
    d = _Dialect(session.get_bind().dialect.name == "postgresql")
    moments = Moments.at(now, settings)
    zones = _zones(session, d, ids, now, settings)
    params: dict = {}
    sql = _text(rungs, zones, d, ids is not None, settings, params)
    params.update(
        now=moments.now,
        today=moments.today,
        day_start=moments.day_start,
        week_start=moments.week_start,
        gap_start=moments.gap_start,
    )
    if ids is not None:
        params["ids"] = _ids_param(d, ids)
    elif d.pg:
        # The per-debtor aggregates of a full refresh fit in memory instead of spilling.
        session.execute(sa.text(f"SET LOCAL work_mem = '{FULL_REFRESH_WORK_MEM}'"))
    result = session.execute(_statement(sql), params)
    return result.rowcount or 0


def _today(now: datetime, settings: Settings):
    return now.astimezone(ZoneInfo(settings.app.timezone)).date()


def _advance(
    session: Session,
    ids: list[int] | None,
    now: datetime,
    settings: Settings,
    rungs: list[LadderRung],
) -> None:
    """The process walks first: the queue shows the step each debtor has reached. Emails and
    letters are left to the process job (``act=False``), so a refresh stays quick."""
    from callcenter.domain.process import (  # the process reads the ladder
        advance_all,
        advance_debtors,
    )

    today = _today(now, settings)
    if ids is None:
        advance_all(
            session, now=now, today=today, settings=settings, act=False, only_time_driven=True
        )
    else:
        advance_debtors(
            session,
            debtor_ids=ids,
            now=now,
            today=today,
            settings=settings,
            act=False,
            rungs=rungs,
        )


def refresh_debtors(
    session: Session, *, debtor_ids: list[int] | set[int], now: datetime, settings: Settings
) -> int:
    """Recompute the queue rows of these debtors (after an import, payment, outcome, callback)."""
    ids = sorted({int(i) for i in debtor_ids})
    if not ids:
        return 0
    rungs = current_ladder(session, settings)
    _advance(session, ids, now, settings, rungs)
    # past a few thousand debtors, rewriting every row costs less than filtering on the list
    count = _run(session, None if len(ids) > SUBSET_STATEMENT_LIMIT else ids, now, settings, rungs)
    session.flush()
    return count


def refresh_all(
    session: Session, *, now: datetime, settings: Settings, walk: bool = True
) -> RefreshReport:
    """Walk every debtor's dunning process, then recompute every queue row in one statement.

    ``walk=False`` when the walk was just done in chunks of their own transactions
    (``jobs.maintenance.recompute_queue``): after a large import, the first walk opens every
    case, and one transaction would hold every debtor for a long while.
    """
    rungs = current_ladder(session, settings)
    if walk:
        _advance(session, None, now, settings, rungs)
    _run(session, None, now, settings, rungs)
    session.flush()
    count, ready, excluded = session.execute(
        sa.text(
            "SELECT COUNT(*), SUM(CASE WHEN state = 'ready' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN state = 'excluded' THEN 1 ELSE 0 END) FROM queue_items"
        )
    ).one()
    return RefreshReport(debtors=int(count), ready=int(ready or 0), excluded=int(excluded or 0))
