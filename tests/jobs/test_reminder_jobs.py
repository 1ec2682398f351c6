"""Reminder and ladder jobs: the right emails, once each, never to an opted-out contact."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from callcenter.clock import Clock
from callcenter.db import session_scope
from callcenter.formatting import day, money
from callcenter.jobs.reminders import dunning_process_job, promise_reminders_job
from callcenter.jobs.scheduler import JobContext
from callcenter.models import (
    DunningCase,
    EmailStatus,
    Event,
    Instalment,
    Invoice,
    OutboxEmail,
    PaymentPlan,
    PromiseInvoice,
)
from tests.conftest import TEST_NOW, TEST_TODAY, TEST_ZONE, make_settings
from tests.factories import (
    make_call,
    make_contact,
    make_debtor,
    make_email,
    make_invoice,
    make_promise,
    make_user,
)

TODAY = TEST_TODAY
COMPANY = {"iban": "FR76 3000 6000 0112 3456 7890 189", "bic": "AGRIFRPPXXX"}


def context_for(engine, settings, day=TODAY) -> JobContext:
    """A job run at 10:00 on ``day``, company time: the job reads no other clock."""
    at = datetime.combine(day, time(10), tzinfo=TEST_ZONE)
    return JobContext(settings, engine, None, clock=Clock(TEST_ZONE, source=lambda: at))


@pytest.fixture
def mail_settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url, company=COMPANY)


def outbox(engine) -> list[OutboxEmail]:
    with session_scope(engine) as session:
        return list(session.exec(select(OutboxEmail).order_by(OutboxEmail.id)).all())


def days_ago(days: int) -> datetime:
    return TEST_NOW - timedelta(days=days)


# --- promise and instalment reminders -----------------------------------------------


def test_promise_reminder_the_day_before_with_terms_and_payment_details(engine, mail_settings):
    with session_scope(engine) as session:
        agent = make_user(session, full_name="Léa Martin", email="lea@exemple.fr")
        debtor = make_debtor(session, name="Durand & Fils", account_code="411C42")
        make_contact(session, debtor, full_name="Hélène Dupré", email="helene@client.fr")
        invoice = make_invoice(session, debtor, number="FA-1", amount_cents=298_000)
        promise = make_promise(
            session,
            debtor,
            agent_id=agent.id,
            amount_cents=298_000,
            paid_cents=98_000,
            promised_date=TODAY + timedelta(days=1),
            created_at=days_ago(10),
        )
        session.add(PromiseInvoice(promise_id=promise.id, invoice_id=invoice.id))
        promise_id = promise.id
    context = context_for(engine, mail_settings)
    promise_reminders_job(context)
    promise_reminders_job(context)
    emails = outbox(engine)
    assert len(emails) == 1
    email = emails[0]
    assert email.idempotency_key == f"reminder:promise:{promise_id}"
    assert email.template == "reminder_promise"
    assert email.to_address == "Hélène Dupré <helene@client.fr>"
    assert email.reply_to == "Léa Martin <lea@exemple.fr>"
    assert email.subject.startswith(
        f"Rappel : règlement de {money(200_000)} prévu le {day(TODAY + timedelta(days=1))}"
    )
    for expected in ("FA-1", "FR76 3000", "AGRIFRPPXXX", "411C42 FA-1", "Léa Martin"):
        assert expected in email.body_text
    assert "Durand &amp; Fils" in email.body_html


def test_no_reminder_too_early_nor_for_a_promise_made_inside_the_window(engine, settings):
    with session_scope(engine) as session:
        debtor = make_debtor(session)
        make_contact(session, debtor)
        make_promise(
            session, debtor, promised_date=TODAY + timedelta(days=3), created_at=days_ago(5)
        )
        make_promise(session, debtor, promised_date=TODAY + timedelta(days=1), created_at=TEST_NOW)
        make_promise(
            session,
            debtor,
            promised_date=TODAY + timedelta(days=1),
            created_at=days_ago(5),
            status="kept",
        )
    promise_reminders_job(context_for(engine, settings))
    assert outbox(engine) == []


def test_instalment_reminder_once_per_instalment(engine, settings):
    with session_scope(engine) as session:
        debtor = make_debtor(session)
        make_contact(session, debtor, email="compta@client.fr")
        make_invoice(session, debtor, number="FA-9", amount_cents=300_000)
        plan = PaymentPlan(debtor_id=debtor.id, total_cents=300_000, created_at=days_ago(40))
        session.add(plan)
        session.flush()
        for sequence, due in enumerate(
            (TODAY - timedelta(days=29), TODAY + timedelta(days=1), TODAY + timedelta(days=31)),
            start=1,
        ):
            session.add(
                Instalment(plan_id=plan.id, sequence=sequence, due_date=due, amount_cents=100_000)
            )
    context = context_for(engine, settings)
    promise_reminders_job(context)
    promise_reminders_job(context)
    emails = outbox(engine)
    assert [e.template for e in emails] == ["reminder_instalment"]
    assert (
        f"échéance 2/3 de {money(100_000)} le {day(TODAY + timedelta(days=1))}" in emails[0].subject
    )
    # a plan covers a sum, not invoices: the reminder states the instalment, the plan's total
    # and how to pay this instalment (the account's reference, its amount in the QR code)
    body = emails[0].body_text
    assert "FA-9" not in body
    assert f"Montant à régler : {money(100_000)}" in body and f"total {money(300_000)}" in body
    assert "EUR1000.00" in emails[0].body_html


def test_opted_out_or_addressless_contacts_are_never_mailed(engine, settings):
    with session_scope(engine) as session:
        opted = make_debtor(session)
        make_contact(session, opted, email_opt_out=True)
        make_contact(session, opted, is_billing=False, email="commercial@client.fr")
        silent = make_debtor(session)
        make_contact(session, silent, email=None)
        fallback = make_debtor(session)
        make_contact(session, fallback, is_billing=False, email="direction@client.fr")
        for debtor in (opted, silent, fallback):
            make_promise(
                session, debtor, promised_date=TODAY + timedelta(days=1), created_at=days_ago(9)
            )
    promise_reminders_job(context_for(engine, settings))
    assert [e.to_address.split("<")[-1] for e in outbox(engine)] == ["direction@client.fr>"]


# --- ladder emails ------------------------------------------------------------------


def ladder_debtor(session, **fields):
    debtor = make_debtor(session, **fields)
    make_contact(session, debtor, email=f"compta@{debtor.account_code.lower()}.fr")
    return debtor


def invoice_at(session, debtor, days_after_due: int, **fields):
    return make_invoice(session, debtor, due_date=TODAY - timedelta(days=days_after_due), **fields)


def test_the_process_sends_a_step_email_once_for_the_invoices_it_concerns(engine, settings):
    with session_scope(engine) as session:
        debtor = ladder_debtor(session)
        invoice_at(session, debtor, -10, number="PRE-1", amount_cents=50_000)
        late = [invoice_at(session, debtor, 1, number=f"LATE-{n}") for n in (1, 2)]
        invoice_at(session, debtor, 1, number="DISPUTED", disputed=True)
        invoice_at(session, debtor, 1, number="PAUSED", paused_until=TODAY + timedelta(days=5))
        invoice_at(session, debtor, 1, number="PAID", status="paid", open_amount_cents=0)
        far = invoice_at(session, debtor, -20, number="FAR-1")
        ids = {"late": [i.id for i in late], "far": far.id}
        debtor_id = debtor.id
    context = context_for(engine, settings)
    first = dunning_process_job(context)
    second = dunning_process_job(context)
    assert (first.opened, first.emails, second.emails) == (1, 1, 0)
    (reminder,) = outbox(engine)
    assert reminder.template == "ladder_reminder_1"
    assert "LATE-1" in reminder.body_text and "LATE-2" in reminder.body_text
    for absent in ("PRE-1", "DISPUTED", "PAUSED", "PAID", "FAR-1"):
        assert absent not in reminder.body_text
    assert reminder.idempotency_key == (
        f"ladder:{debtor_id}:J+1:{','.join(str(i) for i in sorted(ids['late']))}"
    )
    with session_scope(engine) as session:
        marked = {i.id: i for i in session.exec(select(Invoice)).all()}
        events = session.exec(select(Event).where(Event.type == "ladder.email_queued")).all()
    assert marked[ids["late"][0]].dunning_stage == "J+1 1er e-mail de relance"
    assert marked[ids["late"][0]].reminder_count == 1
    assert marked[ids["far"]].reminder_count == 0
    assert len(events) == 1


def test_the_second_reminder_comes_after_the_delay_counted_from_the_first(engine, settings):
    with session_scope(engine) as session:
        debtor = ladder_debtor(session)
        invoice_at(session, debtor, 4, number="MISSED")
    for later in (0, 2, 6, 7):
        dunning_process_job(context_for(engine, settings, day=TODAY + timedelta(days=later)))
    emails = outbox(engine)
    assert [e.template for e in emails] == ["ladder_reminder_1", "ladder_reminder_2"]
    assert "Malgré notre précédent message du" in emails[1].body_text
    with session_scope(engine) as session:
        invoice = session.exec(select(Invoice)).one()
    assert invoice.reminder_count == 2 and invoice.dunning_stage.startswith("J+8")


def test_the_process_writes_to_no_opposed_insolvent_or_opted_out_debtor(engine, settings):
    with session_scope(engine) as session:
        for fields in ({"do_not_call": True}, {"insolvency_status": "redressement"}):
            invoice_at(session, ladder_debtor(session, **fields), 1)
        opted = make_debtor(session)
        make_contact(session, opted, email_opt_out=True)
        opted_invoice = invoice_at(session, opted, 1)
        ok = ladder_debtor(session, segment="key_account")
        invoice_at(session, ok, 1, number="KEY-1")
        opted_id = opted_invoice.id
    report = dunning_process_job(context_for(engine, settings))
    assert report.emails == 1
    assert "KEY-1" in outbox(engine)[0].body_text
    with session_scope(engine) as session:
        assert session.get(Invoice, opted_id).reminder_count == 0
        notes = {c.action_note for c in session.exec(select(DunningCase)).all()}
    assert "aucune adresse e-mail : étape passée" in notes
    assert "opposition enregistrée : aucun e-mail" in notes


def test_under_the_cross_channel_cap_a_step_email_waits(engine, tmp_path, database_url):
    capped = make_settings(
        tmp_path,
        database_url,
        queue={"cap_across_channels": True, "max_attempts_per_week": 2},
    )
    with session_scope(engine) as session:
        busy = ladder_debtor(session)
        for days in (2, 3):
            make_call(session, busy, at=days_ago(days))
        invoice_at(session, busy, 1, number="BUSY")
        recent = ladder_debtor(session)
        make_email(session, recent, status=EmailStatus.SENT, sent_at=TEST_NOW)
        invoice_at(session, recent, 1, number="RECENT")
        old_call = ladder_debtor(session)
        make_call(session, old_call, at=days_ago(8))
        invoice_at(session, old_call, 1, number="OLD")
    report = dunning_process_job(context_for(engine, capped))
    texts = " ".join(e.body_text for e in outbox(engine) if e.template.startswith("ladder"))
    assert (report.capped, report.emails) == (2, 1)
    assert "BUSY" not in texts and "RECENT" not in texts and "OLD" in texts
    # a week later the cap has passed: the two waiting emails leave (and the third debtor,
    # mailed a week ago, gets its second reminder)
    later = dunning_process_job(context_for(engine, capped, day=TODAY + timedelta(days=7)))
    assert (later.emails, later.capped) == (3, 0)


def test_the_process_walks_many_debtors_in_chunks(engine, settings):
    with session_scope(engine) as session:
        for n in range(30):
            debtor = ladder_debtor(session)
            invoice_at(session, debtor, 1 if n % 2 else 30)
    report = dunning_process_job(context_for(engine, settings), chunk=7)
    assert (report.opened, report.emails, report.caught_up) == (30, 15, 15)
    with engine.connect() as connection:
        keys = connection.execute(
            sa.text("SELECT count(DISTINCT idempotency_key) FROM outbox_emails")
        ).scalar_one()
    assert keys == 15


def test_a_contact_named_with_a_comma_is_one_recipient(engine, mail_settings):
    """« Dupont, Jean » written as ``Dupont, Jean <…>`` was two recipients: quoted now."""
    from email.headerregistry import Address
    from email.policy import default

    with session_scope(engine) as session:
        agent = make_user(session, full_name="Martin, Léa", email="lea@exemple.fr")
        debtor = make_debtor(session, name="Durand & Fils", account_code="411C43")
        make_contact(session, debtor, full_name="Dupont, Jean", email="jean@client.fr")
        make_promise(
            session,
            debtor,
            agent_id=agent.id,
            promised_date=TODAY + timedelta(days=1),
            created_at=days_ago(10),
        )
    promise_reminders_job(context_for(engine, mail_settings))
    [email] = outbox(engine)
    for header, expected in (
        (email.to_address, "jean@client.fr"),
        (email.reply_to, "lea@exemple.fr"),
    ):
        addresses = default.header_factory("To", header).addresses
        assert [a.addr_spec for a in addresses] == [expected]
    assert isinstance(addresses[0], Address)
