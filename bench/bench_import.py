"""Benchmark of the invoice import (CSV as French tools export it).

Generates a CSV of ``--rows`` invoices (``;`` separator, decimal comma, grouped thousands,
dd/mm/yyyy dates, UTF-8 with BOM) for ``--debtors`` debtors created first, then imports it into
a fresh database in a child process, which reports its time and peak memory (RSS). Peak
memory is measured for 100,000 rows and for ``--rows`` to show it stays flat. With
``--database-url`` pointing at PostgreSQL, a fresh database is created and dropped, and a plain
``COPY`` of the same file is timed in the same run as the baseline.

    .venv/bin/python bench/bench_import.py --rows 1000000
    .venv/bin/python bench/bench_import.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from support import fresh_database

from callcenter.db import create_db_engine
from callcenter.migrate import upgrade
from callcenter.models import Debtor

HEADER = "Code client;N° facture;Date facture;Échéance;Montant TTC;Reste dû\n"


def french_amount(cents: int) -> str:
    euros, rest = divmod(cents, 100)
    grouped = f"{euros:,}".replace(",", "\u00a0" if euros % 2 else " ")
    return f"{grouped},{rest:02d}"


def write_csv(path: Path, rows: int, debtors: int, seed: int = 42) -> None:
    rng = random.Random(seed)
    start = date(2025, 1, 1)
    days = [(start + timedelta(days=n)) for n in range(540)]
    texts = [d.strftime("%d/%m/%Y") for d in days]
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write(HEADER)
        chunk = []
        for n in range(rows):
            issue = rng.randrange(480)
            due = issue + rng.choice((0, 30, 45, 60))
            amount = rng.randrange(5_000, 5_000_000)
            remaining = amount if n % 3 else rng.randrange(0, amount)
            chunk.append(
                f"C{n % debtors:06d};F{n:09d};{texts[issue]};{texts[due]};"
                f"{french_amount(amount)};{french_amount(remaining)}\n"
            )
            if len(chunk) == 50_000:
                out.write("".join(chunk))
                chunk = []
        out.write("".join(chunk))


def create_debtors(url: str, count: int) -> None:
    engine = create_db_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for start in range(0, count, 20_000):
            connection.execute(
                sa.insert(Debtor),
                [
                    {
                        "account_code": f"C{n:06d}",
                        "name": f"Client {n}",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(start, min(count, start + 20_000))
                ],
            )
    engine.dispose()


def child(url: str, csv_path: str) -> None:
    """Import in this process; print seconds, peak RSS and counts as JSON."""
    from sqlmodel import Session

    from callcenter.domain.imports import run_import

    engine = create_db_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        report = run_import(
            session,
            kind="invoices",
            path=Path(csv_path),
            dry_run=False,
            now=datetime.now(UTC),
        )
        if not report.ok:
            print("\n".join(report.lines()[:20]), file=sys.stderr)
            sys.exit(1)
        session.commit()
    seconds = time.perf_counter() - started
    engine.dispose()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    counts = report.counts["invoices"]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": report.rows,
                "peak_mib": peak_kib / 1024,
                "created": counts.created,
                "updated": counts.updated,
                "unchanged": counts.unchanged,
            }
        )
    )


def run_child(url: str, csv_path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", url, str(csv_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"import en échec :\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def copy_baselines(url: str, csv_path: Path) -> dict[str, float]:
    """Plain ``COPY`` of the same file into a text table; then of the same rows, already
    converted, into a table shaped, indexed and constrained like ``invoices`` (``LIKE …
    INCLUDING ALL``), without then with its foreign key to ``debtors``."""
    import psycopg

    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)
    timings = {}
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE bench_copy_raw (code text, number text, issue text, due text,"
            " amount text, remaining text)"
        )
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY bench_copy_raw FROM STDIN (FORMAT csv, DELIMITER ';', HEADER true)"
            ) as copy,
            csv_path.open("rb") as source,
        ):
            source.read(3)
            while block := source.read(1 << 20):
                copy.write(block)
        timings["copy_raw"] = time.perf_counter() - started
        connection.execute("CREATE TABLE bench_copy_typed (LIKE invoices INCLUDING ALL)")
        converted = csv_path.with_suffix(".copy")
        with csv_path.open(encoding="utf-8-sig") as source, converted.open("w") as out:
            next(source)
            for n, line in enumerate(source):
                code, number, issue, due, amount, remaining = line.rstrip("\n").split(";")
                amount = amount.replace("\u00a0", "").replace(" ", "").replace(",", "")
                remaining = remaining.replace("\u00a0", "").replace(" ", "").replace(",", "")
                out.write(
                    f"{n + 1}\t{int(code[1:]) + 1}\t{number}\t{issue[6:]}-{issue[3:5]}-{issue[:2]}"
                    f"\t{due[6:]}-{due[3:5]}-{due[:2]}\t{int(amount)}\t{int(remaining)}\tEUR"
                    "\topen\tf\t0\t2026-01-01\t2026-01-01\n"
                )
        columns = (
            "id, debtor_id, number, issue_date, due_date, amount_cents, open_amount_cents,"
            " currency, status, disputed, reminder_count, created_at, updated_at"
        )

        def copy_converted() -> float:
            started = time.perf_counter()
            with (
                connection.cursor() as cursor,
                cursor.copy(f"COPY bench_copy_typed ({columns}) FROM STDIN") as copy,
                converted.open("rb") as source,
            ):
                while block := source.read(1 << 20):
                    copy.write(block)
            return time.perf_counter() - started

        timings["copy_typed"] = copy_converted()
        connection.execute("TRUNCATE bench_copy_typed")
        connection.execute(
            "ALTER TABLE bench_copy_typed ADD FOREIGN KEY (debtor_id) REFERENCES debtors (id)"
        )
        timings["copy_typed_fk"] = copy_converted()
        converted.unlink()
        connection.execute("DROP TABLE bench_copy_raw; DROP TABLE bench_copy_typed")
    return timings


def measure(size: int, args, directory: Path) -> dict:
    csv_path = directory / f"factures_{size}.csv"
    write_csv(csv_path, size, args.debtors)
    megabytes = csv_path.stat().st_size / 1e6
    with fresh_database(args.database_url) as url:
        upgrade(url)
        create_debtors(url, args.debtors)
        result = run_child(url, csv_path)
        result["megabytes"] = megabytes
        if url.startswith("postgresql"):
            result.update(copy_baselines(url, csv_path))
    csv_path.unlink()
    return result


def spaced(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--child", nargs=2, metavar=("URL", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    database = "PostgreSQL" if args.database_url else "SQLite"
    sizes = sorted({min(100_000, args.rows), args.rows})
    with tempfile.TemporaryDirectory(prefix="bench_import_") as directory:
        for size in sizes:
            result = measure(size, args, Path(directory))
            rate = result["rows"] / result["seconds"]
            print(
                f"{database} — {spaced(result['rows'])} factures ({result['megabytes']:.0f} Mo, "
                f"{spaced(args.debtors)} débiteurs) : {result['seconds']:.1f} s, "
                f"{spaced(rate)} lignes/s, mémoire max {result['peak_mib']:.0f} Mio "
                f"(créées {spaced(result['created'])}, mises à jour {spaced(result['updated'])})"
            )
            if "copy_raw" in result:
                print(
                    f"  COPY brut du même fichier : {result['copy_raw']:.2f} s → ratio "
                    f"{result['seconds'] / result['copy_raw']:.1f}× ; COPY des mêmes lignes dans "
                    f"une table indexée comme invoices : {result['copy_typed']:.2f} s → ratio "
                    f"{result['seconds'] / result['copy_typed']:.1f}× ; avec sa clé étrangère "
                    f"vers debtors : {result['copy_typed_fk']:.2f} s → ratio "
                    f"{result['seconds'] / result['copy_typed_fk']:.1f}×"
                )
                print(
                    "  plancher : le seul COPY des mêmes lignes dans la table indexée vaut "
                    f"{result['copy_typed'] / result['copy_raw']:.1f}× le COPY brut "
                    f"({result['copy_typed_fk'] / result['copy_raw']:.1f}× avec la clé étrangère)"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
