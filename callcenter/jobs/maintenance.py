"""Housekeeping jobs: the queue's full refresh, the purge of old call recordings and of
uploaded import files left unapplied."""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from callcenter.config import Settings
from callcenter.db import session_scope
from callcenter.domain.audit import record_event
from callcenter.domain.process import advance_debtors, debtors_that_time_can_change
from callcenter.domain.queue import refresh_all
from callcenter.domain.queue.ladder import current_ladder, preventive_horizon
from callcenter.domain.queue.refresh import RefreshReport
from callcenter.jobs.context import JobContext
from callcenter.models import Call, ImportBatch

log = logging.getLogger("callcenter.scheduler")

PURGE_BATCH = 200


QUEUE_WALK_CHUNK = 2000


def recompute_queue(
    engine: Engine, *, now: datetime, settings: Settings, chunk: int = QUEUE_WALK_CHUNK
) -> RefreshReport:
    """The queue's full refresh in short transactions: the process walks the debtors the
    clock can change ``chunk`` at a time, each chunk committed (its debtors locked only that
    long, an outcome meanwhile is seen), then one statement rebuilds every queue row."""
    today = now.astimezone(ZoneInfo(settings.app.timezone)).date()
    with session_scope(engine) as session:
        rungs = current_ladder(session, settings)
        debtor_ids = debtors_that_time_can_change(
            session, now=now, today=today, horizon_days=preventive_horizon(rungs)
        )
    for start in range(0, len(debtor_ids), chunk):
        with session_scope(engine) as session:
            advance_debtors(
                session,
                debtor_ids=debtor_ids[start : start + chunk],
                now=now,
                today=today,
                settings=settings,
                act=False,
            )
    with session_scope(engine) as session:
        return refresh_all(session, now=now, settings=settings, walk=False)


def queue_refresh_job(context: JobContext) -> None:
    """Recompute every debtor's queue row (scores age, windows open and close)."""
    report = recompute_queue(context.engine, now=context.now(), settings=context.settings)
    log.info("file recalculée : %s à appeler, %s exclus", report.ready, report.excluded)


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def retention_cutoff(today: date, months: int, zone: str) -> datetime:
    """Recordings of calls made before local midnight of this day are past retention."""
    limit = months_before(today, months)
    return datetime.combine(limit, datetime.min.time(), tzinfo=ZoneInfo(zone))


@dataclass
class PurgeReport:
    purged: int = 0
    failed: int = 0


def _due(session: Session, cutoff: datetime, after_id: int) -> list[Call]:
    return list(
        session.exec(
            select(Call)
            .where(
                Call.created_at < cutoff,
                col(Call.id) > after_id,
                or_(col(Call.recording_url).is_not(None), col(Call.recording_sid).is_not(None)),
            )
            .order_by(Call.id)
            .limit(PURGE_BATCH)
        ).all()
    )


def purge_recordings(context: JobContext, *, today: date | None = None) -> PurgeReport:
    """Delete each recording past ``[recordings] retention_months``, provider first.

    The provider's copy is deleted through ``context.delete_recording`` outside any
    transaction; only then are the call's recording fields cleared, with a
    ``recording.purged`` event. A provider failure leaves the row for the next run.
    """
    settings = context.settings
    cutoff = retention_cutoff(
        today or context.today(), settings.recordings.retention_months, settings.app.timezone
    )
    report = PurgeReport()
    after_id = 0
    while True:
        with session_scope(context.engine) as session:
            calls = _due(session, cutoff, after_id)
        if not calls:
            return report
        after_id = calls[-1].id
        deleted = []
        for call in calls:
            try:
                context.delete_recording(
                    recording_sid=call.recording_sid, recording_url=call.recording_url
                )
            except Exception:
                log.exception("enregistrement de l'appel %s : suppression refusée", call.id)
                report.failed += 1
                continue
            deleted.append(call.id)
        if deleted:
            with session_scope(context.engine) as session:
                now = context.now()
                for call in session.exec(select(Call).where(col(Call.id).in_(deleted))).all():
                    record_event(
                        session,
                        type="recording.purged",
                        debtor_id=call.debtor_id,
                        payload={
                            "call_id": call.id,
                            "recording_sid": call.recording_sid,
                            "call_date": call.created_at.isoformat(),
                            "retention_months": settings.recordings.retention_months,
                        },
                        at=now,
                    )
                    call.recording_url = None
                    call.recording_sid = None
                    call.recording_duration_seconds = None
                    session.add(call)
            report.purged += len(deleted)
        if len(calls) < PURGE_BATCH:
            return report


def recording_purge_job(context: JobContext) -> None:
    report = purge_recordings(context)
    if report.purged or report.failed:
        log.info("enregistrements : %s supprimés, %s à réessayer", report.purged, report.failed)


def purge_import_uploads(context: JobContext, *, now: datetime | None = None) -> int:
    """Delete the uploaded import files older than ``[imports] keep_uploads_days``.

    An uploaded file holds debtors' personal data: it is kept only while it can still be
    applied or checked again. Its batch keeps the report and forgets the file (applying it
    then asks for the file again); a file that no batch names (an upload cut off before
    its batch was saved) goes by its age on disk. Returns how many files were deleted.
    """
    now = now or context.now()
    cutoff = now - timedelta(days=context.settings.imports.keep_uploads_days)
    directory = context.settings.uploads_path
    deleted = 0
    with session_scope(context.engine) as session:
        named = set()
        for batch in session.exec(
            select(ImportBatch).where(col(ImportBatch.stored_path).is_not(None))
        ):
            if batch.created_at >= cutoff:
                named.add(batch.stored_path)
                continue
            path = Path(batch.stored_path)
            if path.exists():
                path.unlink()
                deleted += 1
            batch.stored_path = None
            session.add(batch)
    if directory.is_dir():
        for path in directory.iterdir():
            if not path.is_file() or str(path) in named:
                continue
            if datetime.fromtimestamp(path.stat().st_mtime, tz=UTC) < cutoff:
                path.unlink()
                deleted += 1
    return deleted


def import_upload_purge_job(context: JobContext) -> None:
    deleted = purge_import_uploads(context)
    if deleted:
        log.info("imports : %s fichier(s) envoyé(s) supprimé(s)", deleted)
