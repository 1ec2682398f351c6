"""The scheduler process as an operator runs it: a stop (SIGTERM) ends it within seconds
even with a backlog and a frozen mail server, and what it had claimed but not sent is
given back at once, at no attempt's cost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from callcenter.db import session_scope
from callcenter.domain.outbox import enqueue_email
from callcenter.jobs.scheduler import ScheduledJob, run_scheduler
from callcenter.models import EmailStatus, OutboxEmail
from tests.smtp_server import ScriptedHandler, SmtpServer
from tests.waiting import wait_until

BACKLOG = 300
# The scheduler process reads the machine's clock, not the test's: the backlog has been due
# since long before any date this suite may run on.
LONG_AGO = datetime(2020, 1, 6, 9, 0, tzinfo=UTC)


class FrozenServer(ScriptedHandler):
    """Accepts the connection and the envelope, then never answers the message."""

    def __init__(self) -> None:
        super().__init__(delay=120.0)
        self.receiving = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.receiving.set()
        return await super().handle_DATA(server, session, envelope)


def _backlog(engine) -> None:
    with session_scope(engine) as session:
        for n in range(BACKLOG):
            enqueue_email(
                session,
                idempotency_key=f"backlog:{n}",
                template="attempt",
                to_address=f"client{n}@exemple.fr",
                subject="Nous avons tenté de vous joindre",
                body_text="Bonjour",
                body_html="<p>Bonjour</p>",
                message_id_domain="exemple.fr",
                now=LONG_AGO,
            )


def _counts(engine) -> dict[tuple[str, int], int]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(OutboxEmail.status, OutboxEmail.attempts, sa.func.count()).group_by(
                OutboxEmail.status, OutboxEmail.attempts
            )
        ).all()
    return {(status, attempts): count for status, attempts, count in rows}


def test_sigterm_stops_within_seconds_and_gives_back_unsent_claims(
    engine, database_url, tmp_path: Path
):
    _backlog(engine)
    handler = FrozenServer()
    with SmtpServer(handler) as server:
        config = tmp_path / "scheduler.toml"
        config.write_text(
            f'[database]\nurl = "{database_url}"\n[app]\ndata_dir = "{tmp_path}/var"\n'
            f"[mail]\nsmtp_port = {server.port}\nsmtp_timeout_seconds = 120\n"
        )
        environment = {
            **os.environ,
            # under faketime (the any-date runs) the scheduler's timed waits need the real
            # monotonic clock; its wall clock is still the faked one
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "CALLCENTER_CONFIG": str(config),
            "CALLCENTER_SECRET_KEY": "cle-de-test-du-planificateur-" + "0123456789abcdef",
        }
        log = (tmp_path / "scheduler.log").open("wb")
        command = Path(sys.executable).with_name("callcenter")
        process = subprocess.Popen(
            [str(command), "scheduler"], env=environment, stdout=log, stderr=log
        )
        try:
            wait_until(handler.receiving.is_set, "le planificateur n'envoie rien", seconds=30)
            asked = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
            stopped_in = time.monotonic() - asked
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            log.close()
    output = (tmp_path / "scheduler.log").read_text()
    assert stopped_in < 10, output
    counts = _counts(engine)
    in_flight = counts.get((EmailStatus.PENDING, 1), 0)
    given_back = counts.get((EmailStatus.PENDING, 0), 0)
    assert counts.get((EmailStatus.SENT, 1), 0) == 0
    assert 1 <= in_flight <= 4, counts  # one message in hand per sending thread, at most
    assert given_back == BACKLOG - in_flight, counts


class Lease:
    """A leader lock whose connection can be cut by the test."""

    def __init__(self) -> None:
        self.held = False
        self.connection_alive = True

    def try_acquire(self) -> bool:
        self.held = self.connection_alive
        return self.held

    def still_held(self) -> bool:
        return self.held and self.connection_alive

    def release(self) -> None:
        self.held = False


def test_no_job_starts_once_the_lock_is_lost(settings, timed_waits):
    """The lock's connection dies between two polls of the main loop: the next job run is
    not started (two leaders never start jobs at the same time)."""
    from apscheduler.triggers.interval import IntervalTrigger

    from callcenter.jobs.context import JobContext

    lease = Lease()
    starts: list[bool] = []
    stop = threading.Event()

    def probe(_context) -> None:
        starts.append(lease.connection_alive)

    thread = threading.Thread(
        target=run_scheduler,
        args=(JobContext(settings, None, None), lease),
        kwargs={
            "stop": stop,
            "jobs": [ScheduledJob("probe", probe, IntervalTrigger(seconds=0.05), True)],
            "standby_poll_seconds": 30.0,
        },
        daemon=True,
    )
    thread.start()
    wait_until(lambda: len(starts) >= 3, "aucune tâche lancée")
    lease.connection_alive = False
    lost_at = len(starts)
    time.sleep(0.5)  # ten job periods: none may start now that the lock is gone
    stop.set()
    thread.join(timeout=10)
    assert all(starts), "une tâche a démarré sans le verrou"
    assert len(starts) <= lost_at + 1  # at most the run already past its check
