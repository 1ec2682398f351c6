"""Benchmark of the work queue: full recompute and concurrent claims.

Loads the demo data (``generate_demo``) into a fresh temporary SQLite database, or into a fresh
PostgreSQL database created next to ``--database-url`` and dropped afterwards. Then times a full
refresh, and ``claim_next`` with N concurrent agents (threads, one session each, claim then
release, commit after each), beside the bare SQL claim statement measured in the same run.

    .venv/bin/python bench/bench_queue.py --debtors 100000
    .venv/bin/python bench/bench_queue.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session
from support import fresh_database, percentile

from callcenter.config import Settings
from callcenter.db import create_db_engine, is_postgres
from callcenter.demo import generate_demo
from callcenter.domain.queue import claim_next, refresh_all, release
from callcenter.migrate import upgrade
from callcenter.models import User

TODAY = date(2026, 6, 15)  # a Monday
NOW = datetime(2026, 6, 15, 8, 30, tzinfo=UTC)  # 10:30 in Paris


def _bare_claim(postgres: bool) -> sa.TextClause:
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    return sa.text(
        "UPDATE queue_items SET state = 'claimed', claimed_by_id = :agent, claimed_at = :now,"
        " lease_until = :until WHERE id = (SELECT id FROM queue_items WHERE state = 'ready'"
        f" ORDER BY score DESC LIMIT 1{lock}) AND state = 'ready' RETURNING id"
    )


def run_agents(engine, agents: list[int], loops: int, settings: Settings, bare: bool):
    """Each agent claims then releases ``loops`` times; returns claim latencies in ms."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    claimed: list[int] = []
    lock = threading.Lock()
    postgres = is_postgres(engine)
    start = threading.Barrier(len(agents))
    naive_now = NOW.replace(tzinfo=None)
    until = (NOW + timedelta(minutes=15)).replace(tzinfo=None)
    statement = _bare_claim(postgres)
    release_sql = sa.text(
        "UPDATE queue_items SET state = 'ready', claimed_by_id = NULL, claimed_at = NULL,"
        " lease_until = NULL WHERE id = :id"
    )

    def agent(agent_id: int) -> None:
        mine: list[float] = []
        try:
            start.wait()
            for _ in range(loops):
                with Session(engine, expire_on_commit=False) as session:
                    began = time.perf_counter()
                    if bare:
                        now = naive_now if postgres else naive_now.isoformat(" ")
                        stop = until if postgres else until.isoformat(" ")
                        row = session.execute(
                            statement, {"agent": agent_id, "now": now, "until": stop}
                        ).first()
                        session.commit()
                        mine.append((time.perf_counter() - began) * 1000)
                        if row is not None:
                            with lock:
                                claimed.append(row[0])
                            session.execute(release_sql, {"id": row[0]})
                            session.commit()
                    else:
                        claim = claim_next(session, agent_id=agent_id, now=NOW, settings=settings)
                        session.commit()
                        mine.append((time.perf_counter() - began) * 1000)
                        if claim is not None:
                            with lock:
                                claimed.append(claim.debtor_id)
                            release(session, agent_id=agent_id, debtor_id=claim.debtor_id, now=NOW)
                            session.commit()
        except BaseException as error:  # reported below, the benchmark must not hide it
            errors.append(error)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=agent, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return latencies, claimed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--loops", type=int, default=50, help="claims per agent")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    settings = Settings()

    with fresh_database(args.database_url) as url:
        upgrade(url)
        engine = create_db_engine(url)
        try:
            began = time.perf_counter()
            report = generate_demo(engine, debtors=args.debtors, seed=args.seed, today=TODAY)
            print(f"database       {engine.dialect.name}")
            print(f"debtors        {report.debtors:,}  invoices {report.invoices:,}")
            print(f"demo load      {time.perf_counter() - began:.1f} s")
            timings = []
            for _ in range(2):
                with Session(engine) as session:
                    began = time.perf_counter()
                    refreshed = refresh_all(session, now=NOW, settings=settings)
                    session.commit()
                    timings.append(time.perf_counter() - began)
            print(f"full refresh   {timings[0]:.2f} s (first), {timings[1]:.2f} s (second)")
            print(f"queue          {refreshed.ready:,} ready, {refreshed.excluded:,} excluded")
            with Session(engine) as session:
                users = [
                    User(
                        email=f"bench{i}@exemple.fr",
                        full_name=f"Agent banc {i}",
                        password_hash="x",
                        role="agent",
                    )
                    for i in range(args.agents)
                ]
                session.add_all(users)
                session.commit()
                agents = [u.id for u in users]
            results = {}
            for bare in (True, False, True, False):
                latencies, claimed = run_agents(engine, agents, args.loops, settings, bare)
                results[bare] = (latencies, claimed)
            for bare, label in ((True, "bare SQL claim"), (False, "claim_next")):
                latencies, claimed = results[bare]
                print(
                    f"{label:<15}{len(latencies)} claims by {args.agents} agents: "
                    f"p50 {statistics.median(latencies):.1f} ms, "
                    f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms"
                )
            ratio = percentile(results[False][0], 0.99) / percentile(results[True][0], 0.99)
            print(f"p99 ratio      claim_next / bare SQL = {ratio:.2f}")
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
