"""Benchmark of the dunning process and the queue it feeds: full recompute and incremental
update of the debtors one change touches.

Loads the demo data (``generate_demo``) into a fresh temporary SQLite database, or into a fresh
PostgreSQL database created next to ``--database-url`` and dropped afterwards. Then:

- full recompute (``recompute_queue``, as the queue job runs it: the process walks the debtors
  the clock can change in committed chunks, then the queue rows are rebuilt in one
  statement): the first run (every case of the back-book opened, a one-off after an import)
  and the next one (steady state, the one held to the limit);
- incremental update, as an outcome or a payment does it: for ``--changes`` random debtors,
  one unanswered call is added and ``refresh_debtors`` recomputes that debtor (process and
  queue row), then the transaction commits. p50/p95/max per changed debtor.

Limits (issue #16): incremental p95 <= 20 ms per changed debtor, full recompute <= 10 s.

    .venv/bin/python bench/bench_process.py --debtors 100000
    .venv/bin/python bench/bench_process.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select
from support import fresh_database, percentile

from callcenter.config import Settings
from callcenter.db import create_db_engine
from callcenter.demo import generate_demo
from callcenter.domain.queue import refresh_debtors
from callcenter.jobs.maintenance import QUEUE_WALK_CHUNK, recompute_queue
from callcenter.migrate import upgrade
from callcenter.models import Call, DunningCase

INCREMENTAL_P95_LIMIT_MS = 20
FULL_LIMIT_S = 10
TODAY = date(2026, 6, 15)  # a Monday
NOW = datetime(2026, 6, 15, 8, 30, tzinfo=UTC)  # 10:30 in Paris


def _full(engine, settings: Settings, now: datetime) -> tuple[float, int, int]:
    """What the queue job does: the walk in committed chunks, then one statement."""
    began = time.perf_counter()
    report = recompute_queue(engine, now=now, settings=settings)
    return time.perf_counter() - began, report.ready, report.excluded


def _incremental(engine, settings: Settings, debtor_ids: list[int], now: datetime) -> list[float]:
    timings = []
    for debtor_id in debtor_ids:
        with Session(engine) as session:
            session.add(Call(debtor_id=debtor_id, created_at=now, started_at=now))
            session.flush()
            began = time.perf_counter()
            refresh_debtors(session, debtor_ids=[debtor_id], now=now, settings=settings)
            session.commit()
            timings.append((time.perf_counter() - began) * 1000)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    settings = Settings()
    print(f"machine        {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    with fresh_database(args.database_url) as url:
        engine = create_db_engine(url)
        try:
            print(f"database       {engine.dialect.name}")
            upgrade(url)
            began = time.perf_counter()
            report = generate_demo(engine, debtors=args.debtors, seed=args.seed, today=TODAY)
            print(f"debtors        {report.debtors:,}  invoices {report.invoices:,}")
            print(f"demo load      {time.perf_counter() - began:.1f} s")
            first, _, _ = _full(engine, settings, NOW)
            second, ready, excluded = _full(engine, settings, NOW + timedelta(minutes=10))
            with engine.connect() as connection:
                cases = connection.execute(
                    sa.text("SELECT COUNT(*) FROM dunning_cases WHERE status <> 'closed'")
                ).scalar_one()
            print(
                f"full recompute {second:.2f} s (steady: what the queue job does)\n"
                f"first walk     {first:.2f} s (a one-off: every case opened, in committed"
                f" chunks of {QUEUE_WALK_CHUNK:,} debtors)"
            )
            print(f"queue          {ready:,} ready, {excluded:,} excluded, {cases:,} open cases")
            with Session(engine) as session:
                ids = list(session.exec(select(DunningCase.debtor_id)).all())
            chosen = random.Random(args.seed).sample(ids, min(args.changes, len(ids)))
            timings = _incremental(engine, settings, chosen, NOW + timedelta(minutes=20))
            p95 = percentile(timings, 0.95)
            print(
                f"incremental    {len(timings)} changed debtors: "
                f"p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms, "
                f"max {max(timings):.1f} ms"
            )
            print(
                f"limits         incremental p95 <= {INCREMENTAL_P95_LIMIT_MS} ms: "
                f"{'met' if p95 <= INCREMENTAL_P95_LIMIT_MS else 'NOT met'}; "
                f"full recompute <= {FULL_LIMIT_S} s: "
                f"{'met' if second <= FULL_LIMIT_S else 'NOT met'}"
            )
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
