"""Wallboard fragment latency with 200 agents, 100,000 debtors and 50,000 calls today.

Usage: .venv/bin/python bench/bench_wallboard.py [--database-url URL] [--debtors N]
       [--agents N] [--calls N] [--requests N]

Builds a fresh database (temporary SQLite file, or a new PostgreSQL database beside the
given URL, dropped at the end), fills it with ``generate_demo``, adds the agents (half of
them holding a claimed debtor) and today's calls set-based, refreshes the queue, then times
the htmx fragment ``GET /supervision/cockpit/`` through the Flask test client as a
signed-in supervisor, and the database time of each refresh (sum of cursor executions).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import fresh_database, percentile  # noqa: E402
from callcenter import create_app  # noqa: E402
from callcenter.config import load_settings  # noqa: E402
from callcenter.db import create_db_engine  # noqa: E402
from callcenter.demo import generate_demo  # noqa: E402
from callcenter.domain.accounts import hash_password  # noqa: E402
from callcenter.domain.dispositions import sync_default_dispositions  # noqa: E402
from callcenter.domain.queue import refresh_all  # noqa: E402
from callcenter.models import UTCDateTime, utcnow  # noqa: E402

PASSWORD = "banc-d-essai-mur-2026"
STATES = ("available", "on_call", "wrap_up", "paused", "offline")
DISPOSITIONS = ("promise", "no_answer", "voicemail", "refusal", "callback", None)


def _settings(url: str):
    settings = load_settings()
    database = settings.database.model_copy(update={"url": url})
    return settings.model_copy(update={"database": database})


def _populate(url: str, *, debtors: int, agents: int, calls: int) -> None:
    settings = _settings(url)
    engine = create_db_engine(url)
    today = datetime.now(ZoneInfo(settings.app.timezone)).date()
    started = time.perf_counter()
    generate_demo(engine, debtors=debtors, seed=42, today=today)
    print(f"demo data: {debtors} debtors in {time.perf_counter() - started:.1f} s")
    now = utcnow()
    password = hash_password(PASSWORD)
    with Session(engine) as session:
        sync_default_dispositions(session)
        session.execute(
            sa.text(
                "INSERT INTO users (email, full_name, password_hash, role, active, agent_state,"
                " state_since, created_at) VALUES (:email, :name, :hash, :role, true, :state,"
                " :since, :since)"
            ).bindparams(sa.bindparam("since", type_=UTCDateTime())),
            [
                {
                    "email": f"bench-agent-{n}@exemple.fr",
                    "name": f"Chargé {n:03d}",
                    "hash": password,
                    "role": "agent",
                    "state": STATES[n % len(STATES)],
                    "since": now - timedelta(seconds=37 * n),
                }
                for n in range(agents)
            ]
            + [
                {
                    "email": "bench-supervisor@exemple.fr",
                    "name": "Superviseur",
                    "hash": password,
                    "role": "supervisor",
                    "state": "offline",
                    "since": now,
                }
            ],
        )
        started = time.perf_counter()
        refresh_all(session, now=now, settings=settings)
        print(f"queue refresh: {time.perf_counter() - started:.1f} s")
        agent_ids = [
            row[0]
            for row in session.execute(
                sa.text("SELECT id FROM users WHERE role = 'agent' ORDER BY id")
            )
        ]
        debtor_ids = [row[0] for row in session.execute(sa.text("SELECT id FROM debtors"))]
        # Half the agents hold a claimed debtor under a live lease.
        lease = sa.bindparam("lease", type_=UTCDateTime())
        session.execute(
            sa.text(
                "UPDATE queue_items SET state = 'claimed', claimed_by_id = :agent,"
                " claimed_at = :lease, lease_until = :lease WHERE debtor_id = :debtor"
            ).bindparams(lease),
            [
                {"agent": agent_id, "debtor": debtor_ids[i], "lease": now + timedelta(minutes=10)}
                for i, agent_id in enumerate(agent_ids[::2])
            ],
        )
        # Today's calls, set-based: spread over the agents, the debtors and the day so far.
        day_start = datetime.combine(today, datetime.min.time(), ZoneInfo(settings.app.timezone))
        span = max(1, int((now - day_start).total_seconds()))
        rows = []
        for n in range(calls):
            at = day_start + timedelta(seconds=(n * 7919) % span)
            code = DISPOSITIONS[n % len(DISPOSITIONS)]
            rows.append(
                {
                    "debtor": debtor_ids[(n * 31) % len(debtor_ids)],
                    "agent": agent_ids[n % len(agent_ids)],
                    "at": at,
                    "answered": at + timedelta(seconds=5) if code else None,
                    "ended": at + timedelta(seconds=95),
                    "code": code,
                }
            )
        stamp = UTCDateTime()
        session.execute(
            sa.text(
                "INSERT INTO calls (debtor_id, agent_id, provider, provider_status, started_at,"
                " answered_at, ended_at, disposition_code, notes, flagged, created_at)"
                " VALUES (:debtor, :agent, 'simulated', 'completed', :at, :answered, :ended,"
                " :code, '', false, :at)"
            ).bindparams(
                sa.bindparam("at", type_=stamp),
                sa.bindparam("answered", type_=stamp),
                sa.bindparam("ended", type_=stamp),
            ),
            rows,
        )
        session.commit()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def _measure(url: str, *, requests: int) -> None:
    settings = _settings(url)
    app = create_app(settings)
    engine = app.extensions["callcenter"].engine
    client = app.test_client()
    login = client.get("/connexion").get_data(as_text=True)
    token = login.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/connexion",
        data={"email": "bench-supervisor@exemple.fr", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302, response.status_code
    sql_time = [0.0]
    sql_count = [0]

    def before(conn, _cursor, _statement, _parameters, _context, _many):
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, _cursor, _statement, _parameters, _context, _many):
        sql_time[0] += time.perf_counter() - conn.info.pop("bench_started")
        sql_count[0] += 1

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    headers = {"HX-Request": "true"}
    for _ in range(3):
        client.get("/supervision/cockpit/", headers=headers)
    totals, database, statements = [], [], []
    for _ in range(requests):
        sql_time[0], sql_count[0] = 0.0, 0
        started = time.perf_counter()
        response = client.get("/supervision/cockpit/", headers=headers)
        totals.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and b'id="wallboard"' in response.data
        database.append(sql_time[0] * 1000)
        statements.append(sql_count[0])
    print(
        f"wallboard fragment ({requests} requests): p50 {percentile(totals, 0.5):.1f} ms,"
        f" p95 {percentile(totals, 0.95):.1f} ms, max {max(totals):.1f} ms"
    )
    print(
        f"database time per refresh: p50 {percentile(database, 0.5):.1f} ms,"
        f" p95 {percentile(database, 0.95):.1f} ms; statements per refresh:"
        f" {min(statements)}–{max(statements)} (session and user lookups included)"
    )
    app.extensions["callcenter"].engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="SQLite (default) or PostgreSQL URL")
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with fresh_database(args.database_url, migrate=True) as url:
        print(f"database: {sa.engine.make_url(url).get_backend_name()}")
        _populate(url, debtors=args.debtors, agents=args.agents, calls=args.calls)
        _measure(url, requests=args.requests)


if __name__ == "__main__":
    main()
