"""Run every benchmark under bench/ on SQLite, then on PostgreSQL when one answers.

Usage: ``make bench`` (or ``.venv/bin/python bench/run_all.py [--only NAME]``).
PostgreSQL is taken from ``CALLCENTER_BENCH_DATABASE_URL``, by default the local
server on 127.0.0.1:5432 (database ``test``); each benchmark creates and drops its
own database there.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str | None:
    url = os.environ.get("CALLCENTER_BENCH_DATABASE_URL", DEFAULT_POSTGRES)
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        return None
    return url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="run only bench_<ONLY>.py")
    args = parser.parse_args()
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem == f"bench_{args.only}"]
    print(
        f"machine: {platform.node()} · {os.cpu_count()} cœurs · Python {platform.python_version()}"
    )
    print(f"date: {time.strftime('%Y-%m-%d %H:%M')}")
    pg = postgres_url()
    failures = 0
    for script in scripts:
        variants = [[]] + ([["--database-url", pg]] if pg else [])
        for extra in variants:
            label = "PostgreSQL" if extra else "SQLite"
            print(f"\n=== {script.stem} · {label} ===", flush=True)
            result = subprocess.run([sys.executable, str(script), *extra], check=False)
            failures += result.returncode != 0
    if not pg:
        print("\nPostgreSQL ne répond pas sur 127.0.0.1:5432 : variantes PostgreSQL non mesurées.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
