"""Soak: agents work the queue through HTTP while the mail server and the scheduler are
killed and restarted at random (issue « Trust first »).

    .venv/bin/python bench/bench_soak.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test \
        [--agents 40] [--seconds 180] [--debtors 6000] [--seed 7]

What runs, each as its own process, as in production: ``callcenter web`` (gunicorn), the
``callcenter scheduler`` (outbox delivery and the other jobs) and a mail server that logs
every message it accepts (Message-ID) before answering 250. ``--agents`` threads each log
in and loop: « Dossier suivant », think, save an outcome (a promise, with its recap email,
or « pas de réponse », with its « nous avons tenté de vous joindre » email), think. A chaos
thread kills (SIGKILL or SIGTERM) the mail server or the scheduler every 3–12 s and
restarts it 1–4 s later. At the end, the mail server and the scheduler run undisturbed
until the outbox is drained (bounded), then the run reports:

- HTTP 5xx answers (target 0);
- double assignments: a debtor handed to two agents whose holds overlap (target 0);
- outcomes saved (HTTP 200) without their call row, or call rows without a saved outcome
  (half-saved outcomes, target 0);
- emails lost: rows not sent at the end, or marked sent but never received (target 0);
- emails received twice (the same Message-ID): only possible in the window between the
  server's 250 and the row being marked sent, when the scheduler is killed just then;
  receivers can deduplicate on the stable Message-ID.

The run is bounded: ``--seconds`` of load, at most 120 s of draining, then every process
is stopped. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import requests
import sqlalchemy as sa
from support import fresh_database

ROOT = Path(__file__).resolve().parents[1]
COMMAND = str(Path(sys.executable).with_name("callcenter"))
PASSWORD = "Soak-relance-2026!quatre-saisons"
DRAIN_SECONDS = 120
CATCHER = """
import sys, asyncio, os
from email import message_from_bytes
from email.policy import default
from aiosmtpd.controller import Controller

log_path, port = sys.argv[1], int(sys.argv[2])

class Handler:
    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default)
        with open(log_path, "a") as log:
            log.write(str(message["Message-ID"]).strip() + "\\n")
            log.flush()
            os.fsync(log.fileno())
        return "250 OK"

controller = Controller(Handler(), hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
controller.start()
import signal, threading
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
controller.stop()
"""


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Process:
    """A child process the chaos thread may kill and restart."""

    name: str
    argv: list[str]
    environment: dict[str, str]
    log: Path
    child: subprocess.Popen | None = None
    kills: Counter = field(default_factory=Counter)

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.child = subprocess.Popen(
                self.argv, env=self.environment, stdout=output, stderr=output
            )

    def kill(self, how: int) -> None:
        if self.child and self.child.poll() is None:
            self.child.send_signal(how)
            self.kills[signal.Signals(how).name] += 1
            try:
                self.child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()

    def alive(self) -> bool:
        return self.child is not None and self.child.poll() is None


def seed_debtors(url: str, debtors: int, rng: random.Random) -> None:
    """Debtors at the ladder's first call step (an invoice 16–24 days overdue), each with
    a contact who has a phone and an email."""
    engine = sa.create_engine(url)
    today = date.today()
    now = datetime.now(UTC)
    with engine.begin() as connection:
        metadata = sa.MetaData()
        metadata.reflect(connection, only=["debtors", "contacts", "invoices"])
        debtor_rows = [
            {
                "account_code": f"411S{n:06d}",
                "name": f"Client soak {n}",
                "segment": "standard",
                "time_zone": "Europe/Paris",
                "language": "fr",
                "payment_terms_days": 30,
                "do_not_call": False,
                "risk": 0,
                "credit_cents": 0,
                "created_at": now,
                "updated_at": now,
            }
            for n in range(debtors)
        ]
        connection.execute(metadata.tables["debtors"].insert(), debtor_rows)
        ids = connection.execute(sa.text("SELECT id FROM debtors ORDER BY id")).scalars().all()
        connection.execute(
            metadata.tables["contacts"].insert(),
            [
                {
                    "debtor_id": debtor_id,
                    "full_name": f"Contact {debtor_id}",
                    "role": "Comptabilité",
                    "phone": f"+3314{debtor_id:07d}",
                    "email": f"compta{debtor_id}@client.example",
                    "is_billing": True,
                    "email_opt_out": False,
                    "created_at": now,
                }
                for debtor_id in ids
            ],
        )
        invoices = []
        for debtor_id in ids:
            due = today - timedelta(days=rng.randint(16, 24))
            amount = rng.randint(20_000, 900_000)
            invoices.append(
                {
                    "debtor_id": debtor_id,
                    "number": f"FS-{debtor_id:07d}",
                    "issue_date": due - timedelta(days=30),
                    "due_date": due,
                    "amount_cents": amount,
                    "open_amount_cents": amount,
                    "currency": "EUR",
                    "status": "open",
                    "disputed": False,
                    "reminder_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        connection.execute(metadata.tables["invoices"].insert(), invoices)
    engine.dispose()


@dataclass
class Hold:
    agent: int
    debtor: int
    claimed: float
    released: float | None = None


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    saved: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, response: requests.Response) -> None:
        with self.lock:
            self.statuses[response.status_code // 100 * 100] += 1
            if response.status_code >= 500:
                self.errors.append(
                    f"{response.request.method} {response.url} {response.status_code}"
                )


ISSUE_URL = re.compile(r"/agent/dossier/(\d+)/issue")
TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')


def agent_loop(number: int, email: str, base: str, until: float, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    browser = requests.Session()
    page = browser.get(f"{base}/connexion", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    browser.post(
        f"{base}/connexion",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        timeout=30,
    )
    home = browser.get(f"{base}/agent/", timeout=30)
    token = TOKEN.search(home.text).group(1)
    headers = {"X-CSRFToken": token, "HX-Request": "true"}
    while time.monotonic() < until:
        claimed = browser.post(f"{base}/agent/suivant", headers=headers, timeout=60)
        tally.answer(claimed)
        found = ISSUE_URL.search(claimed.text) if claimed.status_code == 200 else None
        if not found:
            time.sleep(rng.uniform(1, 3))
            continue
        debtor_id = int(found.group(1))
        hold = Hold(number, debtor_id, time.monotonic())
        with tally.lock:
            tally.holds.append(hold)
        time.sleep(rng.uniform(0.5, 2.0))
        if rng.random() < 0.5:
            form = {
                "disposition": "promise",
                "reason": "oubli",
                "promise_amount": "200,00",
                "promise_date": (date.today() + timedelta(days=5)).isoformat(),
            }
        else:
            form = {"disposition": "no_answer"}
        saved = browser.post(
            f"{base}/agent/dossier/{debtor_id}/issue", data=form, headers=headers, timeout=60
        )
        tally.answer(saved)
        hold.released = time.monotonic()
        if saved.status_code == 200:
            with tally.lock:
                tally.saved.append(debtor_id)
        time.sleep(rng.uniform(0.5, 2.0))


def chaos(processes: list[Process], until: float, rng: random.Random) -> None:
    while time.monotonic() < until:
        time.sleep(rng.uniform(3, 12))
        if time.monotonic() >= until:
            return
        victim = rng.choice(processes)
        victim.kill(rng.choice([signal.SIGKILL, signal.SIGTERM]))
        time.sleep(rng.uniform(1, 4))
        victim.start()


def double_assignments(holds: list[Hold]) -> int:
    by_debtor: dict[int, list[Hold]] = defaultdict(list)
    for hold in holds:
        by_debtor[hold.debtor].append(hold)
    doubles = 0
    for items in by_debtor.values():
        items.sort(key=lambda h: h.claimed)
        for first, second in zip(items, items[1:], strict=False):
            ended = first.released if first.released is not None else float("inf")
            if second.agent != first.agent and second.claimed < ended:
                doubles += 1
    return doubles


def wait_for_web(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/connexion", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit("le serveur web ne répond pas")


def run(url: str, agents: int, seconds: int, debtors: int, seed: int) -> dict:
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="soak_"))
    web_port, smtp_port = free_port(), free_port()
    config = folder / "config.toml"
    config.write_text(
        f'[app]\ndata_dir = "{folder}/var"\npublic_url = "http://127.0.0.1:{web_port}"\n'
        f'[database]\nurl = "{url}"\n'
        f"[web]\nport = {web_port}\nthreads = 16\n"
        f"[mail]\nsmtp_port = {smtp_port}\nrecap_delay_minutes = 0\nlease_seconds = 30\n"
        "smtp_timeout_seconds = 10\nfirst_retry_seconds = 2\nmax_attempts = 50\n"
        "[queue]\ncalling_weekdays = [1, 2, 3, 4, 5, 6, 7]\ncalling_hours = ['00:00-23:59']\n"
        "public_holidays = false\n"
    )
    environment = {
        **os.environ,
        "CALLCENTER_CONFIG": str(config),
        "CALLCENTER_SECRET_KEY": "soak-" + os.urandom(24).hex(),
    }
    subprocess.run([COMMAND, "db", "upgrade"], env=environment, check=True, capture_output=True)
    seed_debtors(url, debtors, rng)
    emails = [f"agent{n}@soak.example" for n in range(agents)]
    for email in emails:
        subprocess.run(
            [
                COMMAND,
                "users",
                "create",
                "--email",
                email,
                "--name",
                email,
                "--role",
                "agent",
                "--password",
                PASSWORD,
            ],
            env=environment,
            check=True,
            capture_output=True,
        )
    subprocess.run([COMMAND, "queue", "refresh"], env=environment, check=True, capture_output=True)
    message_log = folder / "received.log"
    message_log.touch()
    mail = Process(
        "mail",
        [sys.executable, "-c", CATCHER, str(message_log), str(smtp_port)],
        environment,
        folder / "mail.log",
    )
    scheduler = Process("scheduler", [COMMAND, "scheduler"], environment, folder / "scheduler.log")
    web = Process("web", [COMMAND, "web"], environment, folder / "web.log")
    for process in (web, mail, scheduler):
        process.start()
    base = f"http://127.0.0.1:{web_port}"
    wait_for_web(base)
    tally = Tally()
    began = time.monotonic()
    until = began + seconds
    workers = [
        threading.Thread(
            target=agent_loop, args=(n, email, base, until, tally, seed * 1000 + n), daemon=True
        )
        for n, email in enumerate(emails)
    ]
    chaos_thread = threading.Thread(
        target=chaos, args=([mail, scheduler], until, random.Random(seed + 1)), daemon=True
    )
    for thread in [*workers, chaos_thread]:
        thread.start()
    for thread in [*workers, chaos_thread]:
        thread.join(timeout=seconds + 120)
    for process in (mail, scheduler):
        if not process.alive():
            process.start()
    engine = sa.create_engine(url)
    drain_deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < drain_deadline:
        with engine.connect() as connection:
            pending = connection.execute(
                sa.text("SELECT count(*) FROM outbox_emails WHERE status = 'pending'")
            ).scalar_one()
        if not pending:
            break
        time.sleep(1)
    drained_in = time.monotonic() - until
    for process in (scheduler, mail, web):
        process.kill(signal.SIGTERM)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT status, message_id FROM outbox_emails")).all()
        outcome_calls = (
            connection.execute(
                sa.text("SELECT debtor_id FROM calls WHERE disposition_code IS NOT NULL")
            )
            .scalars()
            .all()
        )
    engine.dispose()
    received = Counter(line.strip() for line in message_log.read_text().splitlines() if line)
    sent_ids = {message_id for status, message_id in rows if status == "sent"}
    statuses = Counter(status for status, _ in rows)
    saved = Counter(tally.saved)
    recorded = Counter(outcome_calls)
    return {
        "agents": agents,
        "seconds": seconds,
        "debtors": debtors,
        "requests": dict(tally.statuses),
        "http_5xx": tally.statuses.get(500, 0),
        "first_5xx": tally.errors[:5],
        "claims": len(tally.holds),
        "outcomes_saved": len(tally.saved),
        "double_assignments": double_assignments(tally.holds),
        "half_saved_outcomes": sum((saved - recorded).values()) + sum((recorded - saved).values()),
        "emails_written": len(rows),
        "emails_by_status": dict(statuses),
        "emails_lost": statuses.get("pending", 0)
        + statuses.get("dead", 0)
        + len(sent_ids - set(received)),
        "emails_received_twice": sum(1 for count in received.values() if count > 1),
        "kills": {p.name: dict(p.kills) for p in (mail, scheduler)},
        "drained_in_seconds": round(drained_in, 1),
        "logs": str(folder),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", help="PostgreSQL server (a database is made there); default SQLite"
    )
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--debtors", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    with fresh_database(options.database_url) as url:
        report = run(url, options.agents, options.seconds, options.debtors, options.seed)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    targets = (
        report["http_5xx"],
        report["double_assignments"],
        report["half_saved_outcomes"],
        report["emails_lost"],
    )
    sys.exit(0 if not any(targets) else 1)


if __name__ == "__main__":
    main()
