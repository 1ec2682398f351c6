"""Benchmark of the demo-data generator.

Generates into a fresh temporary SQLite database by default. With ``--database-url`` pointing
at a PostgreSQL server, a fresh database is created next to the given one and dropped after.

    .venv/bin/python bench/bench_demo.py --debtors 100000
    .venv/bin/python bench/bench_demo.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date

import sqlalchemy as sa
from support import fresh_database

from callcenter.db import create_db_engine
from callcenter.demo import generate_demo
from callcenter.migrate import upgrade


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--invoices-per-debtor", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)

    with fresh_database(args.database_url) as url:
        upgrade(url)
        engine = create_db_engine(url)
        last_shown = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            if done == total or now - last_shown[0] >= 5:
                last_shown[0] = now
                print(f"  {done:>9,} / {total:,} débiteurs", file=sys.stderr, flush=True)

        try:
            report = generate_demo(
                engine,
                debtors=args.debtors,
                seed=args.seed,
                today=date(2026, 6, 15),
                invoices_per_debtor=args.invoices_per_debtor,
                progress=progress,
            )
            with engine.connect() as connection:
                allocations = connection.execute(
                    sa.text("SELECT count(*) FROM payment_allocations")
                ).scalar_one()
        finally:
            engine.dispose()

    rows = report.debtors + report.contacts + report.invoices + report.payments + allocations
    print(f"database     {engine.dialect.name}")
    print(f"debtors      {report.debtors:,}")
    print(f"contacts     {report.contacts:,}")
    print(f"invoices     {report.invoices:,}")
    print(f"payments     {report.payments:,}")
    print(f"allocations  {allocations:,}")
    print(f"seconds      {report.seconds:.1f}")
    print(f"rows/s       {rows / report.seconds:,.0f}")
    print(f"invoices/s   {report.invoices / report.seconds:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
