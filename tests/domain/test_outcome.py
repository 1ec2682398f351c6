"""Recording a call's outcome: every disposition's effects, all or nothing, French errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from callcenter.domain.brief import build_brief
from callcenter.domain.dispositions import DEFAULT_DISPOSITIONS, sync_default_dispositions
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.outcome import OutcomeForm, record_outcome
from callcenter.domain.queue import claim_next, refresh_debtors, sync_ladder
from callcenter.models import (
    Call,
    Callback,
    Dispute,
    Event,
    Instalment,
    OutboxEmail,
    PaymentPlan,
    Promise,
    PromiseInvoice,
    QueueItem,
)
from tests.domain.queue_helpers import NOW, TODAY
from tests.factories import make_contact, make_debtor, make_invoice, make_user


@pytest.fixture
def world(session, settings):
    """A debtor with three open invoices, its billing contact, an agent holding it."""
    sync_default_dispositions(session)
    sync_ladder(session, settings=settings)
    debtor = make_debtor(session, name="Boulangerie Durand & Fils", account_code="411C00042")
    contact = make_contact(session, debtor, full_name="Hélène Dupré", email="helene@durand.example")
    old = make_invoice(session, debtor, due_date=TODAY - timedelta(days=20), amount_cents=125_050)
    recent = make_invoice(session, debtor, due_date=TODAY - timedelta(days=16), amount_cents=50_000)
    soon = make_invoice(session, debtor, due_date=TODAY + timedelta(days=5), amount_cents=30_000)
    agent = make_user(session, full_name="Léa Martin", email="lea.martin@exemple.fr")
    other = make_user(session)
    refresh_debtors(session, debtor_ids=[debtor.id], now=NOW, settings=settings)
    claim = claim_next(session, agent_id=agent.id, now=NOW, settings=settings)
    assert claim is not None and claim.debtor_id == debtor.id
    session.flush()
    return {
        "debtor": debtor,
        "contact": contact,
        "agent": agent,
        "other": other,
        "invoices": (old, recent, soon),
        "settings": settings,
    }


def _record(session, world, form, agent=None):
    return record_outcome(
        session,
        agent_id=(agent or world["agent"]).id,
        debtor_id=world["debtor"].id,
        form=form,
        now=NOW,
        settings=world["settings"],
    )


def _events(session, debtor_id):
    return session.exec(
        select(Event.type).where(Event.debtor_id == debtor_id).order_by(Event.id)
    ).all()


def _counts(session):
    return {
        table: session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        for table in (
            "calls",
            "promises",
            "payment_plans",
            "disputes",
            "callbacks",
            "events",
            "outbox_emails",
        )
    }


def forms(world):
    old, recent, _soon = world["invoices"]
    return {
        "promise": OutcomeForm(
            "promise",
            reason="oubli",
            promise_amount="1 750,50",
            promise_date=(TODAY + timedelta(days=7)).isoformat(),
            promise_invoices=[str(old.id), str(recent.id)],
            notes="Virement vendredi",
        ),
        "payment_plan": OutcomeForm(
            "payment_plan",
            reason="tresorerie",
            plan_total="1 750,50",
            plan_dates=[
                (TODAY + timedelta(days=10)).isoformat(),
                (TODAY + timedelta(days=40)).isoformat(),
            ],
            plan_amounts=["1 000,00", "750,50"],
        ),
        "dispute": OutcomeForm(
            "dispute",
            reason="litige",
            dispute_category="qualite",
            dispute_description="Palettes abîmées",
            dispute_invoices=[str(recent.id)],
        ),
        "callback": OutcomeForm(
            "callback",
            callback_at="2026-03-31T15:30",
            callback_personal=True,
        ),
        "already_paid": OutcomeForm("already_paid"),
        "wrong_party": OutcomeForm(
            "wrong_party", contact_name="M. Paul Durand", contact_phone="01 99 00 12 34"
        ),
        "wrong_number": OutcomeForm("wrong_number"),
        "voicemail": OutcomeForm("voicemail"),
        "no_answer": OutcomeForm("no_answer"),
        "refusal": OutcomeForm("refusal", reason="tresorerie", notes="Refuse de s'engager"),
        "invoice_not_received": OutcomeForm("invoice_not_received", reason="administratif"),
        "do_not_call": OutcomeForm("do_not_call", notes="Demande écrite du client"),
    }


EXPECTED = {
    "promise": ({"promise.created"}, "promise"),
    "payment_plan": ({"payment_plan.created"}, "payment_plan"),
    "dispute": ({"dispute.opened"}, "dispute"),
    "callback": ({"callback.scheduled"}, None),
    "already_paid": (set(), "already_paid"),
    "wrong_party": ({"contact.updated"}, None),
    "wrong_number": (set(), None),
    "voicemail": (set(), "attempt"),
    "no_answer": (set(), "attempt"),
    "refusal": (set(), None),
    "invoice_not_received": (set(), "invoice_resend"),
    "do_not_call": ({"debtor.do_not_call"}, None),
}


def test_every_default_disposition_has_a_case():
    assert set(EXPECTED) == {d.code for d in DEFAULT_DISPOSITIONS}


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_each_disposition_writes_its_effects(session, world, code):
    result = _record(session, world, forms(world)[code])
    debtor = world["debtor"]
    extra_events, recap = EXPECTED[code]
    types = _events(session, debtor.id)
    assert "call.outcome" in types
    assert extra_events <= set(types)
    call = session.get(Call, result.call.id)
    assert call.disposition_code == code and call.agent_id == world["agent"].id
    assert call.contact_id == world["contact"].id
    emails = session.exec(select(OutboxEmail)).all()
    if recap is None:
        assert emails == []
    else:
        [email] = emails
        assert email.template == recap
        assert email.idempotency_key == f"recap:call:{call.id}"
        assert email.next_attempt_at == NOW + timedelta(minutes=2), "délai d'annulation"
        assert email.to_address == "Hélène Dupré <helene@durand.example>"
        assert email.reply_to == "Léa Martin <lea.martin@exemple.fr>"
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor.id)).one()
    assert item.claimed_by_id is None and item.state != "claimed"


def test_promise_is_stored_with_its_invoices_and_leaves_the_target(session, world):
    result = _record(session, world, forms(world)["promise"])
    promise = session.get(Promise, result.promise.id)
    assert (promise.amount_cents, promise.status) == (175_050, "pending")
    assert promise.promised_date == TODAY + timedelta(days=7)
    linked = session.exec(select(PromiseInvoice.invoice_id)).all()
    assert sorted(linked) == sorted(i.id for i in world["invoices"][:2])
    email = session.exec(select(OutboxEmail)).one()
    assert "1\u202f750,50\xa0€" in email.body_text and "06/04/2026" in email.body_text
    brief = build_brief(
        session, debtor_id=world["debtor"].id, today=TODAY, now=NOW, settings=world["settings"]
    )
    assert brief.target.promised_cents == 175_050
    assert brief.target.cents == 125_050 + 50_000 + 30_000 - 175_050
    assert {i.number for i in brief.invoices if i.promised} == {
        i.number for i in world["invoices"][:2]
    }


def test_payment_plan_instalments_sum_to_the_total(session, world):
    result = _record(session, world, forms(world)["payment_plan"])
    plan = session.get(PaymentPlan, result.plan.id)
    rows = session.exec(select(Instalment).order_by(Instalment.sequence)).all()
    assert plan.total_cents == sum(r.amount_cents for r in rows) == 175_050


def test_dispute_takes_its_invoices_out_of_dunning(session, world):
    _record(session, world, forms(world)["dispute"])
    dispute = session.exec(select(Dispute)).one()
    assert dispute.category == "qualite"
    recent = world["invoices"][1]
    session.refresh(recent)
    assert recent.disputed
    brief = build_brief(
        session, debtor_id=world["debtor"].id, today=TODAY, now=NOW, settings=world["settings"]
    )
    assert brief.aging.disputed == 50_000
    assert brief.target.overdue_cents == 125_050


def test_personal_callback_belongs_to_the_agent(session, world):
    _record(session, world, forms(world)["callback"])
    callback = session.exec(select(Callback)).one()
    assert callback.personal and callback.agent_id == world["agent"].id
    assert callback.due_at.isoformat() == "2026-03-31T13:30:00+00:00"
    assert callback.reassign_after == callback.due_at + timedelta(minutes=30)


def test_wrong_party_corrects_the_contact(session, world):
    _record(session, world, forms(world)["wrong_party"])
    contact = world["contact"]
    session.refresh(contact)
    assert contact.full_name == "M. Paul Durand" and contact.phone == "+33199001234"


def test_do_not_call_marks_the_debtor_and_excludes_it(session, world):
    _record(session, world, forms(world)["do_not_call"])
    debtor = world["debtor"]
    session.refresh(debtor)
    assert debtor.do_not_call
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor.id)).one()
    assert item.state == "excluded"


def test_opted_out_contact_gets_no_recap(session, world):
    world["contact"].email_opt_out = True
    session.flush()
    _record(session, world, forms(world)["promise"])
    assert session.exec(select(OutboxEmail)).all() == []


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        (
            OutcomeForm("promise", promise_amount="-5", promise_date="2020-01-01"),
            {"promise_amount", "promise_date"},
        ),
        (
            OutcomeForm("promise", promise_amount="99999999", promise_date=""),
            {"promise_amount", "promise_date"},
        ),
        (
            OutcomeForm(
                "payment_plan",
                plan_total="100,00",
                plan_dates=["2026-04-10"],
                plan_amounts=["90,00"],
            ),
            {"plan_instalments"},
        ),
        (OutcomeForm("dispute"), {"dispute_category", "dispute_description", "dispute_invoices"}),
        (OutcomeForm("callback", callback_at="2026-03-01T10:00"), {"callback_at"}),
        (
            OutcomeForm("wrong_party", contact_phone="12", contact_email="pas-une-adresse"),
            {"contact_phone", "contact_email"},
        ),
        (OutcomeForm("no_answer", reason="flemme"), {"reason"}),
    ],
)
def test_invalid_outcome_writes_nothing(session, world, form, errors):
    before = _counts(session)
    with pytest.raises(ValidationFailed) as failed:
        _record(session, world, form)
    assert set(failed.value.errors) == errors
    assert all(message and message[0].isupper() for message in failed.value.errors.values())
    assert _counts(session) == before


def test_unknown_disposition_is_refused(session, world):
    with pytest.raises(ValidationFailed, match="Choisissez l'issue"):
        _record(session, world, OutcomeForm("bavardage"))


def test_only_the_agent_holding_the_debtor_may_record(session, world):
    with pytest.raises(DomainError, match="pas réservé"):
        _record(session, world, OutcomeForm("no_answer"), agent=world["other"])


def test_invoice_not_received_for_many_invoices_fits_the_subject_on_every_database(session, world):
    """Found on PostgreSQL: the recap subject joined every invoice number and overflowed
    its column, so the outcome failed with a 500 and the debtor came back in the queue."""
    for n in range(40):
        make_invoice(
            session,
            world["debtor"],
            number=f"FA-2026-LONG-REFERENCE-{n:04d}",
            due_date=TODAY - timedelta(days=30),
            amount_cents=10_000,
        )
    _record(session, world, OutcomeForm("invoice_not_received", reason="administratif"))
    session.commit()
    email = session.exec(select(OutboxEmail)).one()
    assert len(email.subject) <= 250
    assert "FA-2026-LONG-REFERENCE-0039" in email.body_text


@pytest.mark.parametrize(
    ("code", "email", "opt_out", "expected"),
    [
        ("refusal", "helene@durand.example", False, "Pas d'e-mail récapitulatif pour cette issue."),
        ("promise", None, False, "Hélène Dupré n'a pas d'adresse e-mail."),
        ("promise", "helene@durand.example", True, "Hélène Dupré a refusé les e-mails."),
        ("promise", "helene@durand.example", False, None),
    ],
)
def test_the_agent_is_told_why_no_recap_leaves(session, world, code, email, opt_out, expected):
    contact = world["contact"]
    contact.email, contact.email_opt_out = email, opt_out
    session.flush()
    form = forms(world)[code]
    result = _record(session, world, form)
    if expected is None:
        assert result.email is not None and result.no_recap is None
    else:
        assert result.email is None and result.no_recap.endswith(expected)


LONG = "x" * 5000


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"disposition": "no_answer", "notes": LONG}, "notes", "4000 caractères"),
        (
            {
                "disposition": "dispute",
                "dispute_category": "qualite",
                "dispute_description": LONG,
                "dispute_invoices": "recent",
            },
            "dispute_description",
            "2000 caractères",
        ),
        ({"disposition": "wrong_party", "contact_name": LONG}, "contact_name", "120 caractères"),
        ({"disposition": "wrong_party", "contact_phone": "0" * 31}, "contact_phone", "30 car"),
        (
            {"disposition": "wrong_party", "contact_email": "a" * 250 + "@x.example"},
            "contact_email",
            "254 caractères",
        ),
        (
            {"disposition": "promise", "promise_amount": "1" * 21, "promise_date": "2026-04-02"},
            "promise_amount",
            "20 caractères",
        ),
        (
            {
                "disposition": "payment_plan",
                "plan_total": "100,00",
                "plan_dates": ["2026-04-10", "2029-01-15"],
                "plan_amounts": ["50,00", "50,00"],
            },
            "instalment_2",
            "au plus tard le 30/03/2027",
        ),
        (
            {"disposition": "callback", "callback_at": "2026-03-31T03:00"},
            "callback_at",
            "Hors plage d'appel",
        ),
        (
            {"disposition": "callback", "callback_at": "2026-04-05T10:00"},
            "callback_at",
            "dimanche",
        ),
    ],
)
def test_every_outcome_field_has_its_limit(session, world, fields, field, words):
    """Past each bound of the form a French message on that field, and nothing written."""
    _old, recent, _soon = world["invoices"]
    if fields.get("dispute_invoices") == "recent":
        fields = fields | {"dispute_invoices": [str(recent.id)]}
    before = _counts(session)
    with pytest.raises(ValidationFailed) as failed:
        _record(session, world, OutcomeForm(**fields))
    assert words in failed.value.errors.get(field, ""), failed.value.errors
    assert _counts(session) == before


def test_an_invoice_already_in_dispute_cannot_be_disputed_again(session, world):
    _old, recent, _soon = world["invoices"]
    recent.disputed = True
    session.add(recent)
    session.flush()
    with pytest.raises(ValidationFailed) as failed:
        _record(
            session,
            world,
            OutcomeForm(
                "dispute",
                dispute_category="qualite",
                dispute_description="Palettes abîmées",
                dispute_invoices=[str(recent.id)],
            ),
        )
    assert failed.value.errors["dispute_invoices"].startswith(f"Déjà en litige : {recent.number}")


def test_the_form_limits_are_the_ones_enforced(settings):
    from callcenter.domain.outcome import outcome_limits

    limits = outcome_limits(now=NOW, settings=settings)
    assert (limits.promise_date_min, limits.promise_date_max) == ("2026-03-30", "2026-04-29")
    assert (limits.plan_date_min, limits.plan_date_max) == ("2026-03-30", "2027-03-30")
    assert (limits.callback_min, limits.callback_max) == ("2026-03-30T10:00", "2026-05-29T10:00")
    assert (limits.notes, limits.dispute_description, limits.contact_name) == (4000, 2000, 120)
