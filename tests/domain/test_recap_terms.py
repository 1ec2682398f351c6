"""The recap says exactly what was agreed, and every recap tells how to pay (issue #16).

Built through ``record_outcome`` on both databases: the promise recap lists the invoices the
promise covers (its ``PromiseInvoice`` rows) and closes on the promised amount; the plan
recap lists its instalments and their total; the dispute recap names the disputed invoices.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from email.utils import getaddresses

import pytest
from sqlmodel import select

from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.domain.outcome import OutcomeForm, record_outcome
from callcenter.domain.queue import claim_next, refresh_debtors, sync_ladder
from callcenter.models import OutboxEmail, PromiseInvoice
from tests.domain.queue_helpers import NOW, TODAY
from tests.factories import make_contact, make_debtor, make_invoice, make_user

NBSP, NNBSP = "\xa0", "\u202f"


def euros(text: str) -> str:
    """``5 082,22 €`` as Babel writes it (narrow no-break space, no-break space before €)."""
    whole, cents = text.split(",")
    return whole.replace(" ", NNBSP) + "," + cents + NBSP + "€"


@pytest.fixture
def world(session, settings):
    """A debtor owing five invoices: two overdue, one not yet due, one paused, one disputed."""
    sync_default_dispositions(session)
    sync_ladder(session, settings=settings)
    debtor = make_debtor(session, name="Menuiserie Perrin", account_code="411C00077")
    contact = make_contact(session, debtor, full_name="Dupont, Jean", email="jean@perrin.example")
    oldest = make_invoice(
        session, debtor, number="FA-0001", due_date=TODAY - timedelta(days=20), amount_cents=250_000
    )
    overdue = make_invoice(
        session, debtor, number="FA-0002", due_date=TODAY - timedelta(days=16), amount_cents=180_622
    )
    upcoming = make_invoice(
        session, debtor, number="FA-0003", due_date=TODAY + timedelta(days=6), amount_cents=77_600
    )
    paused = make_invoice(
        session,
        debtor,
        number="FA-0004",
        due_date=TODAY - timedelta(days=18),
        amount_cents=99_900,
        paused_until=TODAY + timedelta(days=20),
        pause_reason="Avoir en préparation",
    )
    disputed = make_invoice(
        session,
        debtor,
        number="FA-0005",
        due_date=TODAY - timedelta(days=17),
        amount_cents=12_345,
        disputed=True,
    )
    agent = make_user(session, full_name="Léa Martin", email="lea.martin@exemple.fr")
    refresh_debtors(session, debtor_ids=[debtor.id], now=NOW, settings=settings)
    claim = claim_next(session, agent_id=agent.id, now=NOW, settings=settings)
    assert claim is not None and claim.debtor_id == debtor.id
    session.flush()
    return {
        "debtor": debtor,
        "contact": contact,
        "agent": agent,
        "settings": settings,
        "oldest": oldest,
        "overdue": overdue,
        "upcoming": upcoming,
        "paused": paused,
        "disputed": disputed,
    }


def _record(session, world, form: OutcomeForm):
    result = record_outcome(
        session,
        agent_id=world["agent"].id,
        debtor_id=world["debtor"].id,
        form=form,
        now=NOW,
        settings=world["settings"],
    )
    return result, session.exec(select(OutboxEmail)).one()


def _listed(text: str) -> list[str]:
    """The invoice numbers a text recap lists (« - Facture FA-… »)."""
    return re.findall(r"^- Facture (\S+) ", text, flags=re.MULTILINE)


def _in_days(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


def test_promise_of_the_balance_lists_every_invoice_it_covers_and_no_other(session, world):
    """The issue's case: 5 082,22 € promised on the balance (no invoice ticked). The recap
    listed the paused invoice and left out the one not yet due that the promise covered."""
    result, email = _record(
        session,
        world,
        OutcomeForm("promise", promise_amount="5 082,22", promise_date=_in_days(7)),
    )
    covered = session.exec(
        select(PromiseInvoice.invoice_id).where(PromiseInvoice.promise_id == result.promise.id)
    ).all()
    expected = [world[name] for name in ("oldest", "overdue", "upcoming")]
    assert sorted(covered) == sorted(i.id for i in expected)
    assert _listed(email.body_text) == ["FA-0001", "FA-0002", "FA-0003"]
    assert "FA-0004" not in email.body_text and "FA-0005" not in email.body_text
    assert f"Total : {euros('5 082,22')}" in email.body_text
    assert f"Total : <strong>{euros('5 082,22')}</strong>" in email.body_html
    assert "Montant promis" not in email.body_text


def test_partial_promise_lists_the_ticked_invoices_then_the_promised_amount(session, world):
    _, email = _record(
        session,
        world,
        OutcomeForm(
            "promise",
            promise_amount="2 000,00",
            promise_date=_in_days(5),
            promise_invoices=[str(world["oldest"].id), str(world["upcoming"].id)],
        ),
    )
    assert _listed(email.body_text) == ["FA-0001", "FA-0003"]
    assert f"reste dû {euros('2 500,00')}" in email.body_text
    assert f"Montant promis : {euros('2 000,00')}" in email.body_text
    assert "Total :" not in email.body_text
    assert f"Montant promis : <strong>{euros('2 000,00')}</strong>" in email.body_html


def test_plan_recap_lists_its_instalments_and_their_total_not_the_invoices(session, world):
    """The issue's case: a 3 000 € plan listed three invoices totalling 6 306 €."""
    _, email = _record(
        session,
        world,
        OutcomeForm(
            "payment_plan",
            plan_total="3 000,00",
            plan_dates=[_in_days(10), _in_days(40), _in_days(70)],
            plan_amounts=["1 000,00", "1 000,00", "1 000,00"],
        ),
    )
    assert _listed(email.body_text) == []
    for number in ("FA-0001", "FA-0002", "FA-0003", "FA-0004"):
        assert number not in email.body_text and number not in email.body_html
    instalments = re.findall(
        r"^- Échéance (\d) : (.+) au plus tard le (\S+)$", email.body_text, re.M
    )
    assert instalments == [
        ("1", euros("1 000,00"), (TODAY + timedelta(days=10)).strftime("%d/%m/%Y")),
        ("2", euros("1 000,00"), (TODAY + timedelta(days=40)).strftime("%d/%m/%Y")),
        ("3", euros("1 000,00"), (TODAY + timedelta(days=70)).strftime("%d/%m/%Y")),
    ]
    assert f"Total : {euros('3 000,00')}" in email.body_text
    assert f"<strong>{euros('3 000,00')}</strong></td>" in email.body_html


def test_dispute_recap_names_the_disputed_invoices_and_the_account_reference(session, world):
    _, email = _record(
        session,
        world,
        OutcomeForm(
            "dispute",
            dispute_category="qualite",
            dispute_description="Portes mal ajustées",
            dispute_invoices=[str(world["overdue"].id)],
        ),
    )
    assert _listed(email.body_text) == ["FA-0002"]
    # the disputed invoice is not to be paid meanwhile: the reference names the account only
    assert "Référence à indiquer : 411C00077\n" in email.body_text


def _epc_fields(body_html: str) -> list[str]:
    [payload] = re.findall(r'<img class="epc-qr" src="[^"]*" data-epc="([^"]*)"', body_html)
    return html.unescape(payload).split("\n")


def test_recap_tells_how_to_pay_and_whom_to_call(session, world):
    _, email = _record(
        session,
        world,
        OutcomeForm(
            "promise",
            promise_amount="1 806,22",
            promise_date=_in_days(7),
            promise_invoices=[str(world["overdue"].id)],
        ),
    )
    for body in (email.body_text, email.body_html):
        assert "FR76 3000 6000 0112 3456 7890 189" in body
        assert "AGRIFRPPXXX" in body
        assert "411C00077 FA-0002" in body, "one invoice: account code and invoice number"
        assert "04 65 71 38 03" in body
    assert _epc_fields(email.body_html) == [
        "BCD",
        "002",
        "1",
        "SCT",
        "AGRIFRPPXXX",
        "Exemple SAS",
        "FR7630006000011234567890189",
        "EUR1806.22",
        "",
        "",
        "411C00077 FA-0002",
    ]


def test_a_contact_named_with_a_comma_stays_one_recipient(session, world):
    _, email = _record(
        session,
        world,
        OutcomeForm("promise", promise_amount="100,00", promise_date=_in_days(3)),
    )
    assert getaddresses([email.to_address]) == [("Dupont, Jean", "jean@perrin.example")]


def test_the_recap_greets_by_civility_and_surname_when_the_civility_is_known(session, world):
    world["contact"].full_name = "Jean Dupont"
    world["contact"].civility = "Monsieur"
    session.add(world["contact"])
    session.flush()
    _, email = _record(
        session,
        world,
        OutcomeForm("promise", promise_amount="1 000,00", promise_date=_in_days(7)),
    )
    assert email.body_text.startswith("Bonjour Monsieur Dupont,")
    assert "Bonjour Monsieur Dupont," in email.body_html
    assert "Jean Dupont" in email.to_address  # the address keeps the full name
