"""One scheduler leader at a time; jobs run only on the leader and are idempotent."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
import sqlalchemy as sa
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session

from callcenter.db import create_db_engine, session_scope
from callcenter.domain.outbox import enqueue_email
from callcenter.domain.promises import refresh_commitments
from callcenter.jobs.leader import FileLeaderLock, PostgresLeaderLock, leader_lock_for
from callcenter.jobs.scheduler import (
    JobContext,
    ScheduledJob,
    deliver_outbox_job,
    evaluate_promises_job,
    run_scheduler,
)
from callcenter.models import Debtor, Promise, utcnow
from callcenter.providers.mail import SmtpTransport
from tests.smtp_server import ScriptedHandler, SmtpServer
from tests.waiting import wait_until


def _two_locks(engine, settings):
    if engine.dialect.name == "postgresql":
        second_engine = create_db_engine(settings.database_url)
        return PostgresLeaderLock(engine), PostgresLeaderLock(second_engine), second_engine
    path = settings.data_path / "scheduler.lock"
    return FileLeaderLock(path), FileLeaderLock(path), None


def test_second_lock_waits_until_the_leader_releases(engine, settings):
    first, second, extra_engine = _two_locks(engine, settings)
    try:
        assert first.try_acquire()
        assert first.still_held()
        assert not second.try_acquire()
        first.release()
        assert second.try_acquire()
        assert not first.try_acquire()
        second.release()
    finally:
        if extra_engine is not None:
            extra_engine.dispose()


def _wait_until_backend_gone(engine, pid: int, seconds: float = 5.0) -> None:
    """The server releases a dead client's locks when its backend exits, a moment after the
    socket closes: the standby retries on its schedule, the test waits for that exit."""
    deadline = time.monotonic() + seconds
    with engine.connect() as connection:
        while connection.execute(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar_one():
            assert time.monotonic() < deadline, f"le processus serveur {pid} ne s'arrête pas"
            time.sleep(0.02)
            connection.rollback()


def test_a_dead_leaders_lock_is_taken_over(postgres_engine):
    standby_engine = create_db_engine(postgres_engine.url.render_as_string(hide_password=False))
    leader, standby = PostgresLeaderLock(postgres_engine), PostgresLeaderLock(standby_engine)
    try:
        assert leader.try_acquire()
        assert not standby.try_acquire()
        pid = leader.connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        leader.connection.invalidate()
        assert not leader.still_held()
        _wait_until_backend_gone(standby_engine, pid)
        assert standby.try_acquire()
        standby.release()
    finally:
        leader.release()
        standby_engine.dispose()


def test_only_the_leader_runs_jobs_and_the_standby_takes_over(engine, settings, timed_waits):
    first_lock, second_lock, extra_engine = _two_locks(engine, settings)
    runs: list[str] = []

    def probe(context):
        runs.append(context.settings.app.name)

    def start(name, lock, on_leadership=None):
        context = JobContext(
            settings.model_copy(update={"app": settings.app.model_copy(update={"name": name})}),
            engine,
            None,
        )
        stop = threading.Event()
        jobs = [ScheduledJob("probe", probe, IntervalTrigger(seconds=0.1), True)]
        thread = threading.Thread(
            target=run_scheduler,
            args=(context, lock),
            kwargs={
                "stop": stop,
                "jobs": jobs,
                "standby_poll_seconds": 0.1,
                "on_leadership": on_leadership,
            },
            daemon=True,
        )
        thread.start()
        return stop, thread

    standby_polls = threading.Event()

    def on_second_leadership(leader: bool) -> None:
        if not leader:
            standby_polls.set()

    stop_first, thread_first = start("premier", first_lock)
    wait_until(lambda: "premier" in runs, "le premier planificateur ne lance aucune tâche")
    stop_second, thread_second = start("second", second_lock, on_second_leadership)
    wait_until(standby_polls.is_set, "le second planificateur ne se met pas en attente")
    wait_until(lambda: runs.count("premier") >= 3, "le premier cesse de lancer ses tâches")
    assert set(runs) == {"premier"}, "le second planificateur reste en attente"
    stop_first.set()
    thread_first.join(timeout=10)
    runs.clear()
    wait_until(lambda: "second" in runs, "le second ne prend pas la main")
    stop_second.set()
    thread_second.join(timeout=10)
    assert set(runs) == {"second"}, "le second prend la main quand le premier s'arrête"
    if extra_engine is not None:
        extra_engine.dispose()


def test_leader_lock_matches_the_database(engine, settings):
    lock = leader_lock_for(engine, settings.data_path)
    expected = PostgresLeaderLock if engine.dialect.name == "postgresql" else FileLeaderLock
    assert isinstance(lock, expected)


def test_outbox_job_twice_sends_once(engine, settings):
    with session_scope(engine) as session:
        enqueue_email(
            session,
            idempotency_key="job:1",
            template="attempt",
            to_address="compta@exemple.fr",
            subject="Nous avons tenté de vous joindre",
            body_text="Bonjour",
            body_html="<p>Bonjour</p>",
            message_id_domain="exemple.fr",
            now=utcnow(),
        )
    with SmtpServer(ScriptedHandler()) as server:
        context = JobContext(settings, engine, SmtpTransport(server.host, server.port))
        deliver_outbox_job(context)
        deliver_outbox_job(context)
    assert len(server.handler.accepted) == 1


def test_promise_job_breaks_an_overdue_promise_once(engine, settings):
    with session_scope(engine) as session:
        debtor = Debtor(account_code="411C7", name="Martin SA")
        session.add(debtor)
        session.flush()
        session.add(
            Promise(debtor_id=debtor.id, amount_cents=10_000, promised_date=date(2020, 1, 10))
        )
    context = JobContext(settings, engine, None)
    evaluate_promises_job(context)
    evaluate_promises_job(context)
    with engine.connect() as connection:
        statuses = connection.execute(sa.text("SELECT status FROM promises")).scalars().all()
        events = connection.execute(
            sa.text("SELECT count(*) FROM events WHERE type = 'promise.broken'")
        ).scalar_one()
    assert statuses == ["broken"] and events == 1


def test_two_overlapping_evaluations_break_a_promise_once(migrated_postgres_engine):
    """A job still running when a new leader starts the same job: the second evaluation waits
    for the first to commit and finds nothing left to change (one event, not two)."""
    engine = migrated_postgres_engine
    with session_scope(engine) as session:
        debtor = Debtor(account_code="411C8", name="Durand SARL")
        session.add(debtor)
        session.flush()
        session.add(
            Promise(debtor_id=debtor.id, amount_cents=10_000, promised_date=date(2020, 1, 10))
        )
        debtor_id = debtor.id
    today = date(2026, 11, 23)

    def evaluate(session) -> None:
        refresh_commitments(session, debtor_ids=[debtor_id], today=today, now=utcnow())

    first = Session(engine)
    evaluate(first)
    second_done = threading.Event()

    def second() -> None:
        with session_scope(engine) as session:
            evaluate(session)
        second_done.set()

    thread = threading.Thread(target=second, daemon=True)
    thread.start()
    with engine.connect() as watcher:
        wait_until(
            lambda: (
                watcher.execute(
                    sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                ).scalar_one()
                > 0
            ),
            "la seconde évaluation n'attend pas la première",
        )
    first.commit()
    first.close()
    thread.join(timeout=10)
    assert second_done.is_set()
    with engine.connect() as connection:
        events = connection.execute(
            sa.text("SELECT count(*) FROM events WHERE type = 'promise.broken'")
        ).scalar_one()
    assert events == 1


@pytest.mark.parametrize(
    ("moment", "runs"),
    [
        ("2026-11-23T10:00", True),
        ("2026-11-23T07:59", False),
        ("2026-11-23T19:00", False),
        ("2026-11-22T10:00", False),
    ],
)
def test_debtor_emails_only_leave_during_office_hours(settings, moment, runs):
    from datetime import datetime

    from callcenter.clock import Clock
    from callcenter.jobs.scheduler import office_hours_only

    zone = settings.app.timezone
    at = datetime.fromisoformat(moment).replace(tzinfo=Clock(zone).zone)
    calls = []
    office_hours_only(calls.append)(JobContext(settings, None, None, clock=Clock(zone, lambda: at)))
    assert bool(calls) is runs
