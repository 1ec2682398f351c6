"""The scheduler process (APScheduler), never inside the web app.

Only the leader runs jobs; a second scheduler stays on standby until the
leader's lock is released. Every job is idempotent: running it twice sends
nothing twice and changes nothing more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from callcenter.config import Settings
from callcenter.db import session_scope
from callcenter.domain.promises import debtors_with_open_commitments, refresh_commitments
from callcenter.jobs.leader import LeaderLock
from callcenter.jobs.outbox import deliver_outbox
from callcenter.providers.mail import MailTransport

log = logging.getLogger("callcenter.scheduler")


@dataclass
class JobContext:
    settings: Settings
    engine: Engine
    mail: MailTransport

    def today(self):
        return datetime.now(ZoneInfo(self.settings.app.timezone)).date()


def deliver_outbox_job(context: JobContext) -> None:
    report = deliver_outbox(
        context.engine,
        context.mail,
        sender_name=context.settings.mail.sender_name,
        sender_address=context.settings.mail.sender_address,
    )
    if report.sent or report.retried or report.dead:
        log.info(
            "courriels : %s envoyés, %s à réessayer, %s en échec",
            report.sent,
            report.retried,
            report.dead,
        )


def evaluate_promises_job(context: JobContext) -> None:
    """Settle promises and instalments whose deadline has passed (kept / partial / broken)."""
    with session_scope(context.engine) as session:
        debtor_ids = debtors_with_open_commitments(session)
        changes = refresh_commitments(session, debtor_ids=debtor_ids, today=context.today())
    if changes:
        log.info("promesses : %s changements de statut", len(changes))


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    function: Callable[[JobContext], None]
    trigger: object
    run_at_start: bool = False


def default_jobs(settings: Settings) -> list[ScheduledJob]:
    zone = ZoneInfo(settings.app.timezone)
    return [
        ScheduledJob("deliver_outbox", deliver_outbox_job, IntervalTrigger(seconds=10), True),
        ScheduledJob(
            "evaluate_promises",
            evaluate_promises_job,
            CronTrigger(hour=6, minute=0, timezone=zone),
            True,
        ),
    ]


def run_scheduler(
    context: JobContext,
    lock: LeaderLock,
    *,
    stop: threading.Event,
    jobs: list[ScheduledJob] | None = None,
    standby_poll_seconds: float = 5.0,
    on_leadership: Callable[[bool], None] | None = None,
) -> None:
    """Wait to become leader, run the jobs while the lock is held, stop on ``stop``."""
    jobs = jobs if jobs is not None else default_jobs(context.settings)
    while not stop.is_set():
        if not lock.try_acquire():
            if on_leadership:
                on_leadership(False)
            stop.wait(standby_poll_seconds)
            continue
        log.info("planificateur : leader, %s tâches", len(jobs))
        if on_leadership:
            on_leadership(True)
        scheduler = BackgroundScheduler(timezone=ZoneInfo(context.settings.app.timezone))
        for job in jobs:
            start_now = {"next_run_time": datetime.now(ZoneInfo("UTC"))} if job.run_at_start else {}
            scheduler.add_job(
                job.function,
                job.trigger,
                args=[context],
                id=job.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=60,
                **start_now,
            )
        scheduler.start()
        try:
            while not stop.wait(standby_poll_seconds):
                if not lock.still_held():
                    log.warning("planificateur : verrou perdu, retour en attente")
                    break
        finally:
            scheduler.shutdown(wait=True)
            lock.release()
