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
from datetime import timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from callcenter.config import Settings
from callcenter.db import session_scope
from callcenter.domain.calls import expire_wrap_ups
from callcenter.domain.process import in_office_hours
from callcenter.domain.promises import debtors_with_open_commitments, refresh_commitments
from callcenter.domain.retries import DeliveryPolicy
from callcenter.jobs.context import JobContext, RecordingDeleter, keep_provider_recording
from callcenter.jobs.leader import LeaderLock
from callcenter.jobs.maintenance import (
    import_upload_purge_job,
    queue_refresh_job,
    recording_purge_job,
)
from callcenter.jobs.outbox import deliver_outbox
from callcenter.jobs.recordings import recording_objections_job
from callcenter.jobs.reminders import dunning_process_job, promise_reminders_job
from callcenter.jobs.transcription import transcription_job
from callcenter.jobs.webhooks import WEBHOOK_POLL_SECONDS, deliver_webhooks_job

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
    "dunning_process_job",
    "promise_reminders_job",
    "queue_refresh_job",
    "recording_purge_job",
    "run_scheduler",
    "transcription_job",
]

OUTBOX_POLL_SECONDS = 2
STOP_GRACE_SECONDS = 5.0
OUTBOX_WORKERS = 4
TRANSCRIPTION_POLL_SECONDS = 30
OBJECTION_RETRY_SECONDS = 60


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    """Retries of the outbox as configured in ``[mail]``."""
    return DeliveryPolicy(
        max_attempts=settings.mail.max_attempts,
        first_retry=timedelta(seconds=settings.mail.first_retry_seconds),
        lease=timedelta(seconds=settings.mail.lease_seconds),
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
        now=context.now,
        stop=context.stopping,
    )
    if report.sent or report.retried or report.dead or report.released:
        log.info(
            "courriels : %s envoyés, %s à réessayer, %s en échec, %s rendus",
            report.sent,
            report.retried,
            report.dead,
            report.released,
        )


def evaluate_promises_job(context: JobContext) -> None:
    """Settle promises and instalments whose deadline has passed (kept / partial / broken)."""
    with session_scope(context.engine) as session:
        debtor_ids = debtors_with_open_commitments(session)
        changes = refresh_commitments(
            session, debtor_ids=debtor_ids, today=context.today(), now=context.now()
        )
    if changes:
        log.info("promesses : %s changements de statut", len(changes))


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    function: Callable[[JobContext], None]
    trigger: object
    run_at_start: bool = False


def office_hours_only(job: Callable[[JobContext], None]) -> Callable[[JobContext], None]:
    """Emails to debtors leave on weekdays during office hours only, even when the scheduler
    (re)starts at night and runs its jobs at once."""

    def run(context: JobContext) -> None:
        if in_office_hours(context.now(), context.settings):
            job(context)

    run.__name__ = job.__name__
    run.__doc__ = job.__doc__
    return run


def expire_wrap_ups_job(context: JobContext) -> None:
    """Agents left in wrap-up past ``[workspace] wrap_up_seconds`` become available."""
    with session_scope(context.engine) as session:
        expire_wrap_ups(
            session,
            now=context.now(),
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
        ScheduledJob("dunning_process", dunning_process_job, IntervalTrigger(minutes=10), True),
        ScheduledJob(
            "deliver_webhooks",
            deliver_webhooks_job,
            IntervalTrigger(seconds=WEBHOOK_POLL_SECONDS),
            True,
        ),
        ScheduledJob("queue_refresh", queue_refresh_job, IntervalTrigger(minutes=10), True),
        ScheduledJob("expire_wrap_ups", expire_wrap_ups_job, IntervalTrigger(seconds=30), True),
        ScheduledJob(
            "recording_objections",
            recording_objections_job,
            IntervalTrigger(seconds=OBJECTION_RETRY_SECONDS),
            True,
        ),
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


class _JobFence:
    """Runs a job only while this scheduler still holds the leader lock, and counts the jobs
    in flight so that a stop waits for them a bounded time.

    The lock is checked before every run: when the lock's connection dies, no new job
    starts here, even before the main loop's next poll notices (two leaders never start
    jobs at the same time; a job already running finishes, and every job is safe under
    overlap).
    """

    def __init__(self, lock: LeaderLock, lost: threading.Event) -> None:
        self.lock = lock
        self.lost = lost
        self.running = 0
        self.idle = threading.Condition()

    def wrap(self, function: Callable[[JobContext], None]) -> Callable[[JobContext], None]:
        def run(context: JobContext) -> None:
            if self.lost.is_set() or context.stopping.is_set():
                return
            if not self.lock.still_held():
                self.lost.set()
                log.warning("planificateur : verrou perdu, tâche %s non lancée", function.__name__)
                return
            with self.idle:
                self.running += 1
            try:
                function(context)
            finally:
                with self.idle:
                    self.running -= 1
                    self.idle.notify_all()

        run.__name__ = function.__name__
        return run

    def wait_idle(self, seconds: float) -> bool:
        with self.idle:
            return self.idle.wait_for(lambda: self.running == 0, timeout=seconds)


def run_scheduler(
    context: JobContext,
    lock: LeaderLock,
    *,
    stop: threading.Event,
    jobs: list[ScheduledJob] | None = None,
    standby_poll_seconds: float = 5.0,
    on_leadership: Callable[[bool], None] | None = None,
    stop_grace_seconds: float = STOP_GRACE_SECONDS,
) -> bool:
    """Wait to become leader, run the jobs while the lock is held, stop on ``stop``.

    On ``stop`` (SIGTERM) or a lost lock, no job starts any more, the running ones are told
    to stop (``context.stopping``: the sender claims nothing more and gives back what it has
    not sent) and are waited for at most ``stop_grace_seconds``. Returns whether every job
    had finished by then.
    """
    jobs = jobs if jobs is not None else default_jobs(context.settings)
    drained = True
    while not stop.is_set():
        if not lock.try_acquire():
            if on_leadership:
                on_leadership(False)
            stop.wait(standby_poll_seconds)
            continue
        log.info("planificateur : leader, %s tâches", len(jobs))
        if on_leadership:
            on_leadership(True)
        lost = threading.Event()
        fence = _JobFence(lock, lost)
        context.stopping.clear()
        scheduler = BackgroundScheduler(timezone=ZoneInfo(context.settings.app.timezone))
        for job in jobs:
            start_now = {"next_run_time": context.now()} if job.run_at_start else {}
            scheduler.add_job(
                fence.wrap(job.function),
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
            while not stop.wait(min(standby_poll_seconds, 1.0)) and not lost.is_set():
                if not lock.still_held():
                    lost.set()
            if lost.is_set():
                log.warning("planificateur : verrou perdu, retour en attente")
        finally:
            context.stopping.set()
            scheduler.shutdown(wait=False)
            drained = fence.wait_idle(stop_grace_seconds)
            if not drained:
                log.warning("planificateur : tâches encore en cours après %s s", stop_grace_seconds)
            lock.release()
    return drained
