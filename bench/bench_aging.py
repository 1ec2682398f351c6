"""Benchmark of the aged balance (balance âgée), the DSO and the exports.

Loads the demo portfolio (100,000 debtors × 10 invoices ≈ 1,000,000 invoices by default) into
a fresh temporary SQLite database, or, with ``--database-url`` pointing at a PostgreSQL server,
into a fresh ``bench_<hex>`` database created next to the given one and dropped at the end.
``--proposed-index`` first creates the partial covering index suggested for open invoices, to
measure what it brings. Prints the median of ``--runs`` runs, in seconds, for each query.
Target: totals + first page under 2 s on both databases.

    .venv/bin/python bench/bench_aging.py --debtors 100000
    .venv/bin/python bench/bench_aging.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session
from support import fresh_database

from callcenter.db import create_db_engine, read_only
from callcenter.demo import generate_demo
from callcenter.domain.aging import AgingOrder, aged_balance, aging_totals, dso
from callcenter.migrate import upgrade
from callcenter.web.supervisor import csv_export_lines, write_xlsx_export

TODAY = date(2026, 6, 15)
TARGET_SECONDS = 2.0
PROPOSED_INDEX = (
    "CREATE INDEX ix_invoices_open_aging ON invoices "
    "(debtor_id, due_date, disputed, open_amount_cents) WHERE status = 'open'"
)


def median_seconds(engine: sa.Engine, runs: int, work: Callable[[Session], object]) -> float:
    """Median wall time of ``work``, each run in its own read-only session."""
    timings = []
    for _ in range(runs):
        with Session(read_only(engine)) as session:
            started = time.perf_counter()
            work(session)
            timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--invoices-per-debtor", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--proposed-index",
        action="store_true",
        help="create the partial covering index proposed for open invoices before measuring",
    )
    args = parser.parse_args(argv)

    with fresh_database(args.database_url) as url:
        upgrade(url)
        engine = create_db_engine(url)
        try:
            started = time.perf_counter()
            report = generate_demo(
                engine,
                debtors=args.debtors,
                seed=1,
                today=TODAY,
                invoices_per_debtor=args.invoices_per_debtor,
            )
            with engine.connect() as connection:
                if args.proposed_index:
                    connection.exec_driver_sql(PROPOSED_INDEX)
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
            load_seconds = time.perf_counter() - started
            print(f"database        {engine.dialect.name}")
            print(f"debtors         {report.debtors:,}")
            print(f"invoices        {report.invoices:,}")
            print(f"load + analyze  {load_seconds:.1f} s")
            print(f"proposed index  {'yes' if args.proposed_index else 'no'}")
            print(f"runs            median of {args.runs}")
            results = run_queries(engine, args.runs)
        finally:
            engine.dispose()

    width = max(len(label) for label in results)
    for label, seconds in results.items():
        print(f"{label:<{width}}  {seconds:8.3f} s")
    worst = max(seconds for label, seconds in results.items() if label.startswith("page +"))
    verdict = "OK" if worst < TARGET_SECONDS else "TROP LENT"
    print(
        f"totals + first page, worst sort: {worst:.3f} s (target < {TARGET_SECONDS} s): {verdict}"
    )
    return 0


def run_queries(engine: sa.Engine, runs: int) -> dict[str, float]:
    results: dict[str, float] = {}
    results["totals"] = median_seconds(engine, runs, lambda s: aging_totals(s, as_of=TODAY))
    for order in AgingOrder:
        results[f"page + totals, sort {order.value}"] = median_seconds(
            engine,
            runs,
            lambda s, order=order: aged_balance(s, as_of=TODAY, order=order, limit=50),
        )
    results["page + totals, segment key_account"] = median_seconds(
        engine, runs, lambda s: aged_balance(s, as_of=TODAY, segment="key_account", limit=50)
    )
    results["DSO (90 days)"] = median_seconds(engine, runs, lambda s: dso(s, as_of=TODAY))

    export_engine = read_only(engine)

    def csv_export(_session: Session) -> None:
        size = sum(
            len(part) for part in csv_export_lines(export_engine, TODAY, None, AgingOrder.TOTAL)
        )
        assert size > 0

    def xlsx_export(_session: Session) -> None:
        with tempfile.TemporaryFile() as output:
            write_xlsx_export(output, export_engine, TODAY, None, AgingOrder.TOTAL)

    results["full CSV export"] = median_seconds(engine, runs, csv_export)
    results["full XLSX export"] = median_seconds(engine, min(runs, 3), xlsx_export)
    return results


if __name__ == "__main__":
    sys.exit(main())
