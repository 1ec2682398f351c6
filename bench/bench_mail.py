"""Benchmark of recap email delivery: outbox → SMTP, throughput and delay after the outcome.

A real SMTP server (aiosmtpd) runs in a separate process, so it does not share the GIL with
the sender; it writes the acceptance time of each message, keyed by Message-ID, to a file.
Two phases on a fresh temporary SQLite database (or a fresh PostgreSQL database created next
to ``--database-url`` and dropped afterwards):

1. burst: ``--emails`` recap emails committed at once, then drained; figure: mails/s.
2. stream: ``--emails`` recap emails committed one outcome at a time at ``--rate`` per
   second by a separate producer process (the web app's part) while the sender polls like
   the scheduler's job (every ``--poll`` s); figure: delay from the row's commit (its
   ``created_at``, zero cancel delay) to SMTP acceptance, p50/p95/max.

    .venv/bin/python bench/bench_mail.py --emails 10000
    .venv/bin/python bench/bench_mail.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from support import fresh_database, percentile

from callcenter.db import create_db_engine, session_scope
from callcenter.domain.outbox import enqueue_email
from callcenter.domain.recap import RecapContext, RecapInvoice, render_recap
from callcenter.jobs.outbox import deliver_outbox
from callcenter.models import OutboxEmail
from callcenter.providers.mail import SmtpTransport

SENDER = {
    "sender_name": "Service relance — Exemple SAS",
    "sender_address": "relances@exemple.fr",
    "now": lambda: datetime.now(UTC),
}

SERVER = textwrap.dedent(
    """
    import signal, sys, threading, time
    from aiosmtpd.controller import Controller

    log = open(sys.argv[2], "w", buffering=1 << 16)
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            raw = envelope.original_content or envelope.content
            at = time.time()
            start = raw.find(b"Message-ID: ")
            end = raw.find(b"\\r\\n", start)
            with lock:
                log.write(raw[start + 12 : end].decode() + "\\t" + repr(at) + "\\n")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    log.close()
    """
)


@contextmanager
def smtp_server(log_path: Path) -> Iterator[int]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(log_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def acceptances(log_path: Path) -> dict[str, float]:
    out = {}
    for line in log_path.read_text().splitlines():
        message_id, _, at = line.partition("\t")
        out[message_id] = float(at)
    return out


RENDERED = render_recap(
    RecapContext(
        template="promise",
        company_name="Exemple SAS",
        company_signature="Le service relance client",
        debtor_name="Boulangerie Durand & Fils",
        contact_name="Mme Hélène Dupré",
        agent_name="Léa Martin",
        agent_email="lea.martin@exemple.fr",
        call_date="23/11/2026",
        payment_reference="411C00042 FA-2026-000123",
        iban="FR76 3000 6000 0112 3456 7890 189",
        bic="AGRIFRPPXXX",
        amount="2 980,00 €",
        promised_date="30/11/2026",
        invoices=[
            RecapInvoice("FA-2026-000123", "02/09/2026", "02/10/2026", "1 250,50 €", "1 250,50 €")
        ],
    )
)


def enqueue(session, key: str) -> None:
    enqueue_email(
        session,
        idempotency_key=key,
        template="promise",
        to_address=f"Hélène Dupré <{key.replace(':', '-')}@client.example>",
        reply_to="Léa Martin <lea.martin@exemple.fr>",
        subject=RENDERED.subject,
        body_text=RENDERED.text,
        body_html=RENDERED.html,
        message_id_domain="exemple.fr",
        now=datetime.now(UTC),
    )


def created_times(engine, prefix: str) -> dict[str, float]:
    with session_scope(engine) as session:
        rows = session.execute(
            sa.select(OutboxEmail.message_id, OutboxEmail.created_at).where(
                OutboxEmail.idempotency_key.like(f"{prefix}%")
            )
        ).all()
    return {message_id: created.timestamp() for message_id, created in rows}


def burst(engine, port: int, emails: int, workers: int) -> float:
    with session_scope(engine) as session:
        for n in range(emails):
            enqueue(session, f"burst:{n}")
    began = time.perf_counter()
    sent = 0
    while sent < emails:
        report = deliver_outbox(
            engine,
            SmtpTransport("127.0.0.1", port),
            workers=workers,
            reuse_connection=True,
            **SENDER,
        )
        sent += report.sent
    return emails / (time.perf_counter() - began)


def produce(url: str, emails: int, rate: float) -> None:
    """The web side: one committed outcome (one recap row) after another, at ``rate`` per second."""
    engine = create_db_engine(url)
    began = time.perf_counter()
    for n in range(emails):
        wait = began + n / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        with session_scope(engine) as session:
            enqueue(session, f"stream:{n}")
    engine.dispose()


def stream(
    engine, url: str, port: int, emails: int, rate: float, poll: float, workers: int
) -> None:
    """The producer runs in its own process, like the web app; the sender polls like the job."""
    producer = multiprocessing.get_context("spawn").Process(
        target=produce, args=(url, emails, rate)
    )
    producer.start()
    transport = SmtpTransport("127.0.0.1", port)
    sent = 0
    while sent < emails:
        began = time.perf_counter()
        sent += deliver_outbox(
            engine, transport, workers=workers, reuse_connection=True, **SENDER
        ).sent
        if sent < emails:
            time.sleep(max(0.0, poll - (time.perf_counter() - began)))
    producer.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rate", type=float, default=100.0, help="outcomes per second (stream)")
    parser.add_argument("--poll", type=float, default=2.0, help="sender polling interval (s)")
    parser.add_argument("--workers", type=int, default=4, help="sending threads")
    args = parser.parse_args()
    with (
        fresh_database(args.database_url, migrate=True) as url,
        tempfile.TemporaryDirectory() as directory,
    ):
        log_path = Path(directory) / "accepted.tsv"
        engine = create_db_engine(url)
        backend = engine.dialect.name
        print(f"base : {backend}, {args.emails} e-mails, {args.workers} fils d'envoi")
        with smtp_server(log_path) as port:
            throughput = burst(engine, port, args.emails, args.workers)
            print(f"rafale : {throughput:.0f} e-mails/s")
            began = time.perf_counter()
            stream(engine, url, port, args.emails, args.rate, args.poll, args.workers)
            elapsed = time.perf_counter() - began
        accepted = acceptances(log_path)
        created = created_times(engine, "stream:")
        delays = [accepted[m] - c for m, c in created.items() if m in accepted]
        missing = len(created) - len(delays)
        print(
            f"flux : {len(delays)} e-mails à {args.rate:.0f}/s (relève toutes les {args.poll} s) "
            f"en {elapsed:.1f} s ; délai validation → acceptation SMTP : "
            f"p50 {statistics.median(delays):.2f} s, p95 {percentile(delays, 0.95):.2f} s, "
            f"max {max(delays):.2f} s ; manquants {missing}"
        )
        burst_ok = throughput >= 100
        delay_ok = percentile(delays, 0.95) <= 5 and not missing
        print(
            "objectifs : ≥ 100 e-mails/s "
            + ("atteint" if burst_ok else "NON atteint")
            + " ; p95 ≤ 5 s "
            + ("atteint" if delay_ok else "NON atteint")
        )
        engine.dispose()


if __name__ == "__main__":
    main()
