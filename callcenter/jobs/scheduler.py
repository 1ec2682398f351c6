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
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from callcenter.config import Settings
from callcenter.db import session_scope
from callcenter.domain.calls import expire_wrap_ups
from callcenter.domain.outbox import DeliveryPolicy
from callcenter.domain.promises import debtors_with_open_commitments, refresh_commitments
from callcenter.jobs.context import JobContext, RecordingDeleter, keep_provider_recording
from callcenter.jobs.leader import LeaderLock
from callcenter.jobs.maintenance import (
    import_upload_purge_job,
    queue_refresh_job,
    recording_purge_job,
)
from callcenter.jobs.outbox import deliver_outbox
from callcenter.jobs.reminders import ladder_emails_job, promise_reminders_job
from callcenter.jobs.transcription import transcription_job

log = logging.getLogger("callcenter.scheduler")

__all__ = [
    "JobContext",
    "RecordingDeleter",
    "ScheduledJob",
    "default_jobs",
    "deliver_outbox_job",
    "delivery_policy",
    "evaluate_promises_job",
    "import_upload_purge_job",
    "keep_provider_recording",
    "ladder_emails_job",
    "promise_reminders_job",
    "queue_refresh_job",
    "recording_purge_job",
    "run_scheduler",
    "transcription_job",
]

OUTBOX_POLL_SECONDS = 2
OUTBOX_WORKERS = 4
TRANSCRIPTION_POLL_SECONDS = 30


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    """Retries of the outbox as configured in ``[mail]``."""
    return DeliveryPolicy(
        max_attempts=settings.mail.max_attempts,
        first_retry=timedelta(seconds=settings.mail.first_retry_seconds),
    )


def deliver_outbox_job(context: JobContext) -> None:
    report = deliver_outbox(
        context.engine,
        context.mail,
        sender_name=context.settings.mail.sender_name,
        sender_address=context.settings.mail.sender_address,
        policy=delivery_policy(context.settings),
        workers=OUTBOX_WORKERS,
        reuse_connection=True,
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


OFFICE_HOURS = (8, 19)


def office_hours_only(
    job: Callable[[JobContext], None], clock: Callable[[ZoneInfo], datetime] = datetime.now
) -> Callable[[JobContext], None]:
    """Emails to debtors leave on weekdays during office hours only, even when the scheduler
    (re)starts at night and runs its jobs at once."""

    def run(context: JobContext) -> None:
        local = clock(ZoneInfo(context.settings.app.timezone))
        if local.weekday() < 5 and OFFICE_HOURS[0] <= local.hour < OFFICE_HOURS[1]:
            job(context)

    run.__name__ = job.__name__
    run.__doc__ = job.__doc__
    return run


def expire_wrap_ups_job(context: JobContext) -> None:
    """Agents left in wrap-up past ``[workspace] wrap_up_seconds`` become available."""
    with session_scope(context.engine) as session:
        expire_wrap_ups(
            session,
            now=datetime.now(ZoneInfo("UTC")),
            wrap_up_seconds=context.settings.workspace.wrap_up_seconds,
        )


def default_jobs(settings: Settings) -> list[ScheduledJob]:
    zone = ZoneInfo(settings.app.timezone)
    return [
        ScheduledJob(
            "deliver_outbox",
            deliver_outbox_job,
            IntervalTrigger(seconds=OUTBOX_POLL_SECONDS),
            True,
        ),
        ScheduledJob(
            "evaluate_promises",
            evaluate_promises_job,
            CronTrigger(hour=6, minute=0, timezone=zone),
            True,
        ),
        ScheduledJob(
            "promise_reminders",
            office_hours_only(promise_reminders_job),
            CronTrigger(hour=8, minute=0, timezone=zone),
            True,
        ),
        ScheduledJob(
            "ladder_emails",
            office_hours_only(ladder_emails_job),
            CronTrigger(day_of_week="mon-fri", hour=8, minute=30, timezone=zone),
            True,
        ),
        ScheduledJob("queue_refresh", queue_refresh_job, IntervalTrigger(minutes=10), True),
        ScheduledJob("expire_wrap_ups", expire_wrap_ups_job, IntervalTrigger(seconds=30), True),
        ScheduledJob(
            "recording_purge",
            recording_purge_job,
            CronTrigger(hour=3, minute=0, timezone=zone),
            True,
        ),
        ScheduledJob(
            "import_upload_purge",
            import_upload_purge_job,
            CronTrigger(hour=3, minute=15, timezone=zone),
            True,
        ),
        ScheduledJob(
            "transcription",
            transcription_job,
            IntervalTrigger(seconds=TRANSCRIPTION_POLL_SECONDS),
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
