"""Benchmark of the work queue: full recompute and concurrent claims.

Loads the demo data (``generate_demo``) into a fresh temporary SQLite database, or into a fresh
PostgreSQL database created next to ``--database-url`` and dropped afterwards. Then times a full
refresh, and ``claim_next`` with N concurrent agents (one request per claim: claim, commit,
read of the debtor, rollback; then the call ends), beside the bare SQL claim statement
measured in the same run. Six scenarios: agents as threads of one process (the web server's
threads) or as separate processes (several web workers), pressing « Suivant » in bursts (all
at the same instant, round after round), back to back (each claims again as soon as it is
done), or paced (each waits a random 0–``--think-ms`` after its call, still far more often
than agents on the phone do).

    .venv/bin/python bench/bench_queue.py --debtors 100000
    .venv/bin/python bench/bench_queue.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session
from support import fresh_database, percentile

from callcenter.config import Settings
from callcenter.db import create_db_engine, keep_prepared_statements
from callcenter.demo import generate_demo
from callcenter.domain.queue import claim_next, refresh_all
from callcenter.migrate import upgrade
from callcenter.models import User
from callcenter.web.server import settle_heap, web_pool_size

CLAIM_P99_LIMIT_MS = 25
TODAY = date(2026, 6, 15)  # a Monday
NOW = datetime(2026, 6, 15, 8, 30, tzinfo=UTC)  # 10:30 in Paris


def _bare_claim(postgres: bool) -> sa.TextClause:
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    return sa.text(
        "UPDATE queue_items SET state = 'claimed', claimed_by_id = :agent, claimed_at = :now,"
        " lease_until = :until WHERE id = (SELECT id FROM queue_items WHERE state = 'ready'"
        f" ORDER BY score DESC LIMIT 1{lock}) AND state = 'ready' RETURNING id"
    )


BARE_CLAIM = {postgres: _bare_claim(postgres) for postgres in (True, False)}


WARM_UP_CLAIMS = 6  # the first claims of a connection open it
BRIEF_READ = sa.text(
    "SELECT d.* FROM debtors d JOIN queue_items q ON q.debtor_id = d.id WHERE q.id = :id"
)
CALL_OVER = sa.text(
    "UPDATE queue_items SET state = 'excluded', claimed_by_id = NULL, claimed_at = NULL,"
    " lease_until = NULL WHERE id = :id"
)


@dataclass(frozen=True)
class Run:
    """One measured run: every agent claims ``loops`` times, with one kind of claim."""

    url: str
    loops: int
    bare: bool
    pacing: str
    think_ms: int = 0


def _claim(session: Session, run: Run, agent_id: int, settings: Settings) -> int | None:
    if run.bare:
        postgres = session.get_bind().dialect.name == "postgresql"
        now, until = NOW.replace(tzinfo=None), (NOW + timedelta(minutes=15)).replace(tzinfo=None)
        values = {"agent": agent_id, "now": now, "until": until}
        if not postgres:
            values.update(now=now.isoformat(" "), until=until.isoformat(" "))
        row = session.execute(BARE_CLAIM[postgres], values).first()
        return None if row is None else row[0]
    taken = claim_next(session, agent_id=agent_id, now=NOW, settings=settings)
    return None if taken is None else taken.item_id


def _agent(run: Run, agent_id: int, rounds, engine=None) -> tuple[list[float], list[int]]:
    """One agent: claims ``run.loops`` times, as « Suivant » does: the claim is committed,
    then the request reads the debtor for the brief and ends with a rollback (which drops
    psycopg's own prepared statements; the engines are the web server's, whose connections
    keep the claim prepared: ``keep_prepared_statements``).
    Then the call ends and the debtor leaves the ready rows, as the outcome's refresh does
    (an attempt starts the minimum gap between attempts). In ``bursts`` every round starts
    with all agents pressing « Suivant » at the same instant, and the calls end once every
    agent of the round has its debtor (a call lasts longer than a claim: the ends of calls
    do not land among the claims of the round); ``back to back`` claims again as soon as
    the call is over; ``paced`` first waits a random 0–``run.think_ms``."""
    settings = Settings()
    own_engine = engine is None
    if own_engine:
        engine = create_db_engine(run.url)
        keep_prepared_statements(engine)
    latencies: list[float] = []
    claimed: list[int] = []
    pauses = random.Random(agent_id)
    try:
        with Session(engine) as session:
            for _ in range(WARM_UP_CLAIMS):
                _claim(session, run, agent_id, settings)
                session.rollback()
        rounds.wait()
        for _ in range(run.loops):
            if run.pacing == "bursts":
                rounds.wait()
            with Session(engine, expire_on_commit=False) as session:
                began = time.perf_counter()
                item_id = _claim(session, run, agent_id, settings)
                session.commit()
                latencies.append((time.perf_counter() - began) * 1000)
                if item_id is not None:
                    session.execute(BRIEF_READ, {"id": item_id}).all()
            if run.pacing == "bursts":
                rounds.wait()
            if item_id is not None:
                claimed.append(item_id)
                with Session(engine) as session:
                    session.execute(CALL_OVER, {"id": item_id})
                    session.commit()
            if run.pacing == "paced":
                time.sleep(pauses.uniform(0, run.think_ms) / 1000)
    except BaseException:
        rounds.abort()
        raise
    finally:
        if own_engine:
            engine.dispose()
    return latencies, claimed


def _agent_process(run: Run, agent_id: int, rounds, results) -> None:
    settle_heap()
    try:
        results.put(_agent(run, agent_id, rounds))
    except BaseException as error:  # sent to the parent, which stops the benchmark
        results.put(f"agent {agent_id} : {error!r}")


def run_agents(run: Run, agents: list[int], *, processes: bool, engine=None):
    """All agents at once, as threads sharing ``engine`` (one web process) or as separate
    processes with their own connections; returns claim latencies in ms and claimed ids."""
    outcomes = []
    if processes:
        context = multiprocessing.get_context("spawn")
        rounds, results = context.Barrier(len(agents)), context.Queue()
        workers = [
            context.Process(target=_agent_process, args=(run, a, rounds, results)) for a in agents
        ]
        for worker in workers:
            worker.start()
        outcomes = [results.get() for _ in workers]
        for worker in workers:
            worker.join()
    else:
        rounds = threading.Barrier(len(agents))
        lock = threading.Lock()

        def agent(agent_id: int) -> None:
            try:
                outcome = _agent(run, agent_id, rounds, engine)
            except BaseException as error:  # reported below, the benchmark must not hide it
                outcome = f"agent {agent_id} : {error!r}"
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=agent, args=(a,)) for a in agents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    failures = [o for o in outcomes if isinstance(o, str)]
    if failures:
        raise SystemExit("\n".join(failures))
    latencies = [value for o in outcomes for value in o[0]]
    claimed = [item for o in outcomes for item in o[1]]
    if len(set(claimed)) != len(claimed):
        raise SystemExit("un débiteur a été donné à deux agents")
    return latencies, claimed


def _refresh(engine, settings: Settings):
    with Session(engine) as session:
        began = time.perf_counter()
        refreshed = refresh_all(session, now=NOW, settings=settings)
        session.commit()
    return refreshed, time.perf_counter() - began


@contextmanager
def _database(database_url: str | None, existing: bool) -> Iterator[str]:
    if existing:
        if database_url is None:
            raise SystemExit("--existing needs --database-url")
        yield database_url
        return
    with fresh_database(database_url) as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--loops", type=int, default=50, help="claims per agent")
    parser.add_argument(
        "--think-ms", type=int, default=500, help="paced scenario: longest pause after a call"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--existing",
        action="store_true",
        help="use --database-url as it is (demo data already loaded by an earlier run)",
    )
    args = parser.parse_args(argv)
    settings = Settings()

    with _database(args.database_url, args.existing) as url:
        engine = create_db_engine(url, pool_size=web_pool_size(args.agents))
        try:
            print(f"database       {engine.dialect.name}")
            if not args.existing:
                upgrade(url)
                began = time.perf_counter()
                report = generate_demo(engine, debtors=args.debtors, seed=args.seed, today=TODAY)
                print(f"debtors        {report.debtors:,}  invoices {report.invoices:,}")
                print(f"demo load      {time.perf_counter() - began:.1f} s")
            timings = []
            for _ in range(2):
                refreshed, seconds = _refresh(engine, settings)
                timings.append(seconds)
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
                session.execute(sa.delete(User).where(User.email.like("bench%@exemple.fr")))
                session.add_all(users)
                session.commit()
                agents = [u.id for u in users]
            verdicts = []
            keep_prepared_statements(engine)
            settle_heap()
            for processes in (False, True):
                for pacing in ("bursts", "back to back", "paced"):
                    results = {}
                    for bare in (True, False, True, False):
                        _refresh(engine, settings)
                        run = Run(url, args.loops, bare, pacing, args.think_ms)
                        results[bare] = run_agents(run, agents, processes=processes, engine=engine)
                    scenario = f"{'processes' if processes else 'threads of one process'}, {pacing}"
                    if pacing == "paced":
                        scenario += f" 0-{args.think_ms} ms"
                    print(f"{args.agents} agents x {args.loops} claims: {scenario}")
                    for bare, label in ((True, "  bare SQL claim"), (False, "  claim_next")):
                        latencies, claimed = results[bare]
                        print(
                            f"{label:<17}{len(claimed)} debtors: "
                            f"p50 {statistics.median(latencies):.1f} ms, "
                            f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms"
                        )
                    p99 = percentile(results[False][0], 0.99)
                    ratio = p99 / percentile(results[True][0], 0.99)
                    verdict = "met" if p99 <= CLAIM_P99_LIMIT_MS else "NOT met"
                    print(f"  p99 ratio      claim_next / bare SQL = {ratio:.2f}")
                    verdicts.append(f"{scenario}: {p99:.1f} ms, {verdict}")
            print(f"claim_next p99 <= {CLAIM_P99_LIMIT_MS} ms:")
            for line in verdicts:
                print(f"  {line}")
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
