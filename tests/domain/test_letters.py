"""Letters: the reminder letter and the formal notice, their content, their PDF, the CLI."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlmodel import select

from callcenter.db import session_scope
from callcenter.domain.errors import DomainError
from callcenter.domain.letters import build_letter, late_penalty_cents, record_letter
from callcenter.domain.queue.ladder import current_ladder
from callcenter.formatting import money
from callcenter.letters_cli import letters_group
from callcenter.models import Disposition, Event, Invoice, utcnow
from callcenter.providers.pdf import render_pdf
from tests.conftest import make_settings
from tests.factories import make_call, make_contact, make_debtor, make_invoice

TODAY = date(2026, 11, 23)
COMPANY = {"name": "Exemple SAS", "iban": "FR76 3000 6000 0112 3456 7890 189", "bic": "AGRIFRPPXXX"}


@pytest.fixture
def letter_settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url, company=COMPANY)


def seed(session):
    debtor = make_debtor(session, name="Durand & Fils", account_code="411C42", siren="732829320")
    make_contact(session, debtor, full_name="Hélène Dupré")
    make_invoice(
        session,
        debtor,
        number="FA-100",
        issue_date=date(2026, 9, 1),
        due_date=date(2026, 10, 1),
        amount_cents=120_000,
        open_amount_cents=100_000,
    )
    make_invoice(session, debtor, number="FA-200", due_date=date(2026, 11, 3), amount_cents=50_000)
    make_invoice(session, debtor, number="FA-LIT", due_date=date(2026, 10, 1), disputed=True)
    make_invoice(session, debtor, number="FA-FUTUR", due_date=TODAY + timedelta(days=5))
    make_invoice(session, debtor, number="FA-SOLDE", status="paid", open_amount_cents=0)
    session.add(
        Event(
            debtor_id=debtor.id,
            type="email.sent",
            at=utcnow() - timedelta(days=40),
            payload={"template": "ladder_reminder_1", "subject": "Vos factures"},
        )
    )
    session.add(
        Event(
            debtor_id=debtor.id,
            type="email.sent",
            at=utcnow() - timedelta(days=39),
            payload={"template": "promise", "subject": "Récapitulatif"},
        )
    )
    session.add(Disposition(code="refusal_test", label="Refus de payer"))
    make_call(session, debtor, at=utcnow() - timedelta(days=20), disposition_code="refusal_test")
    make_call(session, debtor, at=utcnow() - timedelta(days=19))
    return debtor


def test_penalty_is_simple_interest_from_the_day_after_the_due_date():
    assert late_penalty_cents(100_000, 53, 12.15) == round(100_000 * 0.1215 * 53 / 365)
    assert late_penalty_cents(100_000, 0, 12.15) == 0


def test_reminder_letter_lists_overdue_invoices_reminders_and_legal_mentions(
    session, letter_settings
):
    seed(session)
    letter = build_letter(
        session, account_code=" 411C42 ", kind="relance", today=TODAY, settings=letter_settings
    )
    html = letter.html
    assert letter.invoice_numbers == ["FA-100", "FA-200"]
    assert letter.total_cents == 150_000
    for expected in (
        "Exemple SAS",
        "Durand &amp; Fils",
        "732 829 320",
        "411C42",
        "Hélène Dupré",
        "23/11/2026",
        "01/09/2026",
        "01/10/2026",
        money(120_000),
        money(150_000),
        "L441-10",
        "12,15",
        "indemnité forfaitaire pour frais de recouvrement",
        money(4_000),
        money(8_000),
        "Refus de payer",
        "« Vos factures »",
        "FR76 3000",
        "size: A4",
        "@page",
    ):
        assert expected in html, expected
    for absent in ("FA-LIT", "FA-FUTUR", "FA-SOLDE", "Récapitulatif", "contentieux"):
        assert absent not in html, absent
    assert money(late_penalty_cents(100_000, 53, 12.15)) in html
    assert "53 j" in html and "20 j" in html


def test_formal_notice_gives_the_deadline_and_announces_litigation(session, letter_settings):
    seed(session)
    letter = build_letter(
        session,
        account_code="411C42",
        kind="mise_en_demeure",
        today=TODAY,
        settings=letter_settings,
    )
    html = letter.html
    assert "mettons en demeure" in html
    assert "8 jours" in html and "01/12/2026" in html
    assert "contentieux" in html
    assert "Lettre recommandée avec accusé de réception" in html
    penalties = late_penalty_cents(100_000, 53, 12.15) + late_penalty_cents(50_000, 20, 12.15)
    assert money(150_000 + penalties + 8_000) in html


def test_letters_refuse_unknown_accounts_and_accounts_with_nothing_overdue(session, settings):
    with pytest.raises(DomainError, match="introuvable"):
        build_letter(session, account_code="NOPE", kind="relance", today=TODAY, settings=settings)
    debtor = make_debtor(session, account_code="411C99")
    make_invoice(session, debtor, due_date=TODAY + timedelta(days=3))
    with pytest.raises(DomainError, match="Aucune facture échue"):
        build_letter(session, account_code="411C99", kind="relance", today=TODAY, settings=settings)
    with pytest.raises(DomainError, match="Type de lettre"):
        build_letter(session, account_code="411C99", kind="autre", today=TODAY, settings=settings)


def test_recording_a_letter_moves_invoices_to_the_letter_rung_and_lists_it_next_time(
    session, letter_settings
):
    seed(session)
    current_ladder(session, letter_settings)
    letter = build_letter(
        session, account_code="411C42", kind="relance", today=TODAY, settings=letter_settings
    )
    record_letter(session, letter=letter, now=utcnow(), settings=letter_settings)
    invoices = session.exec(select(Invoice).where(Invoice.number.in_(["FA-100", "FA-200"]))).all()
    assert {i.dunning_stage for i in invoices} == {"J+35 Lettre de relance"}
    assert all(i.reminder_count == 1 and i.last_reminder_at for i in invoices)
    notice = build_letter(
        session,
        account_code="411C42",
        kind="mise_en_demeure",
        today=TODAY,
        settings=letter_settings,
    )
    assert "Lettre de relance : Factures FA-100, FA-200" in notice.html


def test_each_letter_prints_as_a_one_page_pdf(session, letter_settings):
    seed(session)
    for kind in ("relance", "mise_en_demeure"):
        letter = build_letter(
            session, account_code="411C42", kind=kind, today=TODAY, settings=letter_settings
        )
        pdf = render_pdf(letter.html, compress=False)
        assert pdf.startswith(b"%PDF-")
        assert len(pdf) > 10_000
        assert len(re.findall(rb"/Type /Page\b", pdf)) == 1, kind
        assert render_pdf(letter.html).startswith(b"%PDF-")


def test_cli_writes_the_pdf_and_records_the_letter(app, engine, tmp_path):
    with session_scope(engine) as session:
        seed(session)
    runner = app.test_cli_runner()
    output = tmp_path / "relance.pdf"
    result = runner.invoke(letters_group, ["relance", "411C42", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert "Lettre de relance pour Durand & Fils" in result.output
    assert output.read_bytes().startswith(b"%PDF-")
    with session_scope(engine) as session:
        events = session.exec(select(Event).where(Event.type == "letter.generated")).all()
    assert [e.payload["kind"] for e in events] == ["relance"]

    missing = runner.invoke(letters_group, ["mise-en-demeure", "INCONNU"])
    assert missing.exit_code == 1
    assert "Compte client introuvable : « INCONNU »" in missing.output
    bad_dir = runner.invoke(
        letters_group, ["relance", "411C42", "--output", str(tmp_path / "absent" / "x.pdf")]
    )
    assert bad_dir.exit_code == 1 and "Dossier de destination introuvable" in bad_dir.output


def test_letters_carry_both_postal_addresses(session, tmp_path, database_url):
    settings = make_settings(
        tmp_path,
        database_url,
        company={**COMPANY, "address": ["3 quai des Tanneurs", "69002 Lyon"], "siren": "552100554"},
    )
    debtor = seed(session)
    letter = build_letter(
        session, account_code=debtor.account_code, kind="relance", today=TODAY, settings=settings
    )
    assert letter.content.address_missing
    debtor.address_line1, debtor.postal_code, debtor.city = "14 rue Pasteur", "21000", "Dijon"
    debtor.country = "France"
    session.flush()
    letter = build_letter(
        session,
        account_code=debtor.account_code,
        kind="mise_en_demeure",
        today=TODAY,
        settings=settings,
    )
    assert not letter.content.address_missing
    assert letter.content.debtor_address == ["14 rue Pasteur", "21000 Dijon"]
    for line in ("14 rue Pasteur", "21000 Dijon", "3 quai des Tanneurs", "69002 Lyon", "552100554"):
        assert line in letter.html


@pytest.mark.parametrize(("kind", "amount"), [("relance", 150_000), ("mise_en_demeure", None)])
def test_each_letter_says_how_to_pay_with_a_scannable_qr_code(
    session, letter_settings, kind, amount
):
    import io

    import pdfplumber
    import zxingcpp

    seed(session)
    letter = build_letter(
        session, account_code="411C42", kind=kind, today=TODAY, settings=letter_settings
    )
    payment = letter.content.payment
    # what the letter asks for: the principal, or everything a formal notice claims
    claimed = amount or int(re.sub(r"\D", "", letter.content.grand_total))
    assert payment.amount == money(claimed)
    assert payment.reference == "411C42", "two invoices: the account code alone"
    assert "IBAN FR76 3000 6000 0112 3456 7890 189, BIC AGRIFRPPXXX" in letter.html
    assert "Tél. 04 65 71 38 03" in letter.html
    pdf = render_pdf(letter.html)
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        [page] = document.pages
        assert len(page.images) == 1
        picture = page.to_image(resolution=150).original
    [code] = zxingcpp.read_barcodes(picture)
    fields = code.text.split("\n")
    assert fields[:7] == [
        "BCD",
        "002",
        "1",
        "SCT",
        "AGRIFRPPXXX",
        "Exemple SAS",
        "FR7630006000011234567890189",
    ]
    assert fields[7] == f"EUR{claimed // 100}.{claimed % 100:02d}"
    assert fields[-1] == "411C42"
