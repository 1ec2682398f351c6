"""Queue refresh, recording purge, the delivery policy from settings, the registered jobs."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from callcenter.db import session_scope
from callcenter.domain.outbox import enqueue_email
from callcenter.jobs.maintenance import (
    months_before,
    purge_import_uploads,
    purge_recordings,
    queue_refresh_job,
    recording_purge_job,
)
from callcenter.jobs.scheduler import (
    JobContext,
    default_jobs,
    deliver_outbox_job,
    delivery_policy,
)
from callcenter.models import (
    Call,
    EmailStatus,
    Event,
    ImportBatch,
    OutboxEmail,
    QueueItem,
    utcnow,
)
from callcenter.providers.mail import SmtpTransport
from tests.conftest import make_settings
from tests.factories import make_call, make_contact, make_debtor, make_invoice
from tests.smtp_server import ScriptedHandler, SmtpServer


def test_every_job_is_registered(settings):
    names = [job.name for job in default_jobs(settings)]
    assert names == [
        "deliver_outbox",
        "evaluate_promises",
        "promise_reminders",
        "dunning_process",
        "deliver_webhooks",
        "queue_refresh",
        "expire_wrap_ups",
        "recording_objections",
        "recording_purge",
        "import_upload_purge",
        "transcription",
    ]


def test_delivery_policy_comes_from_mail_settings(tmp_path, database_url, engine):
    settings = make_settings(
        tmp_path, database_url, mail={"max_attempts": 1, "first_retry_seconds": 5}
    )
    policy = delivery_policy(settings)
    assert (policy.max_attempts, policy.first_retry) == (1, timedelta(seconds=5))
    with session_scope(engine) as session:
        enqueue_email(
            session,
            idempotency_key="policy:1",
            template="attempt",
            to_address="compta@client.fr",
            subject="Essai",
            body_text="Bonjour",
            body_html="<p>Bonjour</p>",
            message_id_domain="exemple.fr",
            now=utcnow(),
        )
    with SmtpServer(ScriptedHandler(data_reply="451 4.3.0 Réessayez")) as server:
        deliver_outbox_job(JobContext(settings, engine, SmtpTransport(server.host, server.port)))
    with session_scope(engine) as session:
        email = session.exec(select(OutboxEmail)).one()
    assert email.status == EmailStatus.DEAD, "une seule tentative permise par [mail]"


def test_queue_refresh_job_computes_every_debtor(engine, settings):
    with session_scope(engine) as session:
        for _ in range(3):
            debtor = make_debtor(session)
            make_contact(session, debtor)
            make_invoice(session, debtor, due_date=date.today() - timedelta(days=20))
    context = JobContext(settings, engine, None)
    queue_refresh_job(context)
    queue_refresh_job(context)
    with session_scope(engine) as session:
        items = session.exec(select(QueueItem)).all()
    assert len(items) == 3 and all(item.stage for item in items)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 11, 23), 6, date(2026, 5, 23)),
        (date(2026, 8, 31), 6, date(2026, 2, 28)),
        (date(2026, 3, 15), 14, date(2025, 1, 15)),
    ],
)
def test_months_before_clamps_to_the_month_end(day, months, expected):
    assert months_before(day, months) == expected


class Deleter:
    def __init__(self, refuse: set[str] = frozenset()) -> None:
        self.refuse = refuse
        self.deleted: list[str | None] = []

    def __call__(self, *, recording_sid, recording_url):
        if recording_sid in self.refuse:
            raise RuntimeError("provider down")
        self.deleted.append(recording_sid)


def test_recordings_past_retention_are_purged_once_provider_first(engine, settings):
    old = utcnow() - timedelta(days=200)
    with session_scope(engine) as session:
        debtor = make_debtor(session)
        expired = make_call(
            session, debtor, at=old, recording_sid="RE1", recording_url="https://r/1"
        )
        refused = make_call(session, debtor, at=old, recording_sid="RE2", recording_url="u2")
        kept = make_call(session, debtor, recording_sid="RE3", recording_url="https://r/3")
        make_call(session, debtor, at=old)
        ids = (expired.id, refused.id, kept.id)
    deleter = Deleter(refuse={"RE2"})
    context = JobContext(settings, engine, None, delete_recording=deleter)
    report = purge_recordings(context)
    recording_purge_job(context)
    assert (report.purged, report.failed) == (1, 1)
    assert deleter.deleted == ["RE1"]
    with session_scope(engine) as session:
        calls = {c.id: c for c in session.exec(select(Call)).all()}
        events = session.exec(select(Event).where(Event.type == "recording.purged")).all()
    assert calls[ids[0]].recording_url is None and calls[ids[0]].recording_sid is None
    assert calls[ids[1]].recording_sid == "RE2", "refus du fournisseur : on réessaiera"
    assert calls[ids[2]].recording_sid == "RE3", "encore dans la durée de conservation"
    assert [e.payload["call_id"] for e in events] == [ids[0]]
    assert events[0].payload["recording_sid"] == "RE1"


def test_default_recording_hook_is_a_no_op(engine, settings):
    with session_scope(engine) as session:
        debtor = make_debtor(session)
        make_call(session, debtor, at=utcnow() - timedelta(days=400), recording_url="https://r/x")
    recording_purge_job(JobContext(settings, engine, None))
    with engine.connect() as connection:
        remaining = connection.execute(
            sa.text("SELECT count(*) FROM calls WHERE recording_url IS NOT NULL")
        ).scalar_one()
    assert remaining == 0


def test_uploaded_import_files_are_deleted_after_the_retention(engine, settings):
    directory = settings.uploads_path
    directory.mkdir(parents=True)
    now = utcnow()
    old, recent, stray_old, stray_new = (
        directory / name for name in ("old.csv", "recent.csv", "stray-old.csv", "stray-new.csv")
    )
    for path in (old, recent, stray_old, stray_new):
        path.write_text("Code client;N° facture\n")
    ten_days_ago = (now - timedelta(days=10)).timestamp()
    for path in (old, recent, stray_old):
        os.utime(path, (ten_days_ago, ten_days_ago))
    # the disk stamps files with the machine's time: the new one is dated by the test's clock
    os.utime(stray_new, (now.timestamp(), now.timestamp()))
    with session_scope(engine) as session:
        expired = ImportBatch(
            kind="invoices",
            source_name="old.csv",
            stored_path=str(old),
            created_at=now - timedelta(days=8),
        )
        kept = ImportBatch(
            kind="invoices",
            source_name="recent.csv",
            stored_path=str(recent),
            created_at=now - timedelta(days=2),
        )
        session.add_all([expired, kept])
        session.flush()
        ids = (expired.id, kept.id)
    context = JobContext(settings, engine, None)
    assert purge_import_uploads(context, now=now) == 2
    assert not old.exists() and not stray_old.exists()
    assert recent.exists(), "encore applicable : le lot le nomme et il a moins de 7 jours"
    assert stray_new.exists(), "récent sur le disque"
    with session_scope(engine) as session:
        assert session.get(ImportBatch, ids[0]).stored_path is None
        assert session.get(ImportBatch, ids[1]).stored_path == str(recent)
    assert purge_import_uploads(context, now=now) == 0
