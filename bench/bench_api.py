"""Benchmark of the API's bulk push against the file import of the same invoices.

The same ``--rows`` invoices (for ``--debtors`` debtors created first) are imported twice,
each into its own fresh database: once as a CSV file through ``run_import``, once as JSON
through ``POST /api/v1/invoices`` in requests of 10,000 records, grouped by customer as an
ERP export lists them (``--order file`` keeps the CSV's order, where every request touches
every customer: the worst case for the per-request queue update) (the Flask test client, so
no network: what is measured is the API's own work — parsing, validation, the import, the
commit, the audit). The request bodies are serialised before the clock starts. Both paths
end with the same follow-up (promises settled, the queue re-placed).

Limit (issue #18): the API push within 2x the file import of the same rows.

    .venv/bin/python bench/bench_api.py --rows 100000
    .venv/bin/python bench/bench_api.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench_import import create_debtors, write_csv
from sqlmodel import Session
from support import fresh_database

from callcenter import create_app
from callcenter.config import parse_settings
from callcenter.db import create_db_engine, session_scope
from callcenter.domain.api_access import create_token
from callcenter.domain.imports import run_import

LIMIT_RATIO = 2.0
BATCH = 10_000


def _settings(folder: str, url: str):
    return parse_settings(
        {"app": {"data_dir": folder}, "database": {"url": url}, "api": {"max_request_mib": 64}},
        base_dir=folder,
        environ={"CALLCENTER_SECRET_KEY": "bench-" + "x" * 40},
    )


def json_records(rows: int, debtors: int, seed: int = 42) -> list[dict]:
    """The rows ``write_csv`` writes, as API records (same seed, same values)."""
    rng = random.Random(seed)
    start = date(2025, 1, 1)
    days = [(start + timedelta(days=n)).isoformat() for n in range(540)]
    records = []
    for n in range(rows):
        issue = rng.randrange(480)
        due = issue + rng.choice((0, 30, 45, 60))
        amount = rng.randrange(5_000, 5_000_000)
        remaining = amount if n % 3 else rng.randrange(0, amount)
        records.append(
            {
                "account_code": f"C{n % debtors:06d}",
                "number": f"F{n:09d}",
                "issue_date": days[issue],
                "due_date": days[due],
                "amount_cents": amount,
                "open_amount_cents": remaining,
            }
        )
    return records


def file_import(url: str, folder: str, csv_path: Path) -> float:
    settings = _settings(folder, url)
    engine = create_db_engine(url)
    try:
        began = time.perf_counter()
        with Session(engine) as session:
            report = run_import(
                session,
                kind="invoices",
                path=csv_path,
                dry_run=False,
                now=datetime.now(UTC),
                settings=settings,
            )
            if not report.ok:
                raise SystemExit("\n".join(report.lines()[:20]))
            session.commit()
        return time.perf_counter() - began
    finally:
        engine.dispose()


def api_push(url: str, folder: str, bodies: list[bytes]) -> float:
    app = create_app(_settings(folder, url))
    engine = app.extensions["callcenter"].engine
    with session_scope(engine) as session:
        secret = create_token(
            session, name="bench", can_write=True, actor_id=None, now=datetime.now(UTC)
        ).secret
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    began = time.perf_counter()
    for body in bodies:
        response = client.post("/api/v1/invoices", data=body, headers=headers)
        if response.status_code != 200:
            raise SystemExit(
                f"API : {response.status_code} {response.get_data(as_text=True)[:500]}"
            )
    seconds = time.perf_counter() - began
    engine.dispose()
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--debtors", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--order",
        choices=("customer", "file"),
        default="customer",
        help="records grouped by customer, as an ERP export lists them (each request touches"
        " its own customers), or in the CSV's order (every request touches every customer)",
    )
    args = parser.parse_args(argv)
    print(f"machine        {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    records = json_records(args.rows, args.debtors)
    if args.order == "customer":
        records.sort(key=lambda record: (record["account_code"], record["number"]))
    bodies = [
        json.dumps({"records": records[start : start + BATCH]}).encode()
        for start in range(0, len(records), BATCH)
    ]
    with tempfile.TemporaryDirectory(prefix="bench_api_") as folder:
        csv_path = Path(folder) / "factures.csv"
        write_csv(csv_path, args.rows, args.debtors)
        with fresh_database(args.database_url, migrate=True) as url:
            print(f"database       {url.split(':', 1)[0]}")
            create_debtors(url, args.debtors)
            file_seconds = file_import(url, folder, csv_path)
        with fresh_database(args.database_url, migrate=True) as url:
            create_debtors(url, args.debtors)
            api_seconds = api_push(url, folder, bodies)
    ratio = api_seconds / file_seconds
    print(f"rows           {args.rows:,} invoices for {args.debtors:,} debtors")
    print(f"file import    {file_seconds:.1f} s (CSV, run_import)")
    print(
        f"API push       {api_seconds:.1f} s ({len(bodies)} requests of up to {BATCH:,},"
        f" records in {args.order} order)"
    )
    print(
        f"limit          API <= {LIMIT_RATIO:g} x file: {ratio:.2f} x — "
        f"{'met' if ratio <= LIMIT_RATIO else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
