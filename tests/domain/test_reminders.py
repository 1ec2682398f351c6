"""Reminder and ladder emails: French, courteous, every figure present; snapshot-tested.

Run with ``UPDATE_SNAPSHOTS=1`` after a deliberate wording change, then review the diff.
"""

import os
from pathlib import Path

import pytest

from callcenter.domain.debtor_mail import (
    LADDER_TEMPLATES,
    DebtorEmail,
    MailInvoice,
    render_email,
)
from callcenter.domain.payment import PaymentDetails

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots" / "emails"

ONE = [MailInvoice("FA-2026-000123", "02/09/2026", "02/10/2026", "1 250,50 €", "1 250,50 €")]
TWO = ONE + [MailInvoice("FA-2026-000187", "15/09/2026", "15/10/2026", "2 229,50 €", "1 729,50 €")]


def payment(reference: str = "411C00042", amount: str = "2 980,00 €", transfer=True):
    if not transfer:
        return PaymentDetails("Exemple SAS", "", "", reference, amount, "04 65 71 38 03", "")
    cents = amount.replace("\u202f", "").replace(" ", "").replace("€", "").replace(",", ".")
    return PaymentDetails(
        beneficiary="Exemple SAS",
        iban="FR76 3000 6000 0112 3456 7890 189",
        bic="AGRIFRPPXXX",
        reference=reference,
        amount=amount,
        phone="04 65 71 38 03",
        epc="BCD\n002\n1\nSCT\nAGRIFRPPXXX\nExemple SAS\nFR7630006000011234567890189"
        f"\nEUR{cents}\n\n\n{reference}",
    )


def context(template: str, **extra) -> DebtorEmail:
    values = dict(
        template=template,
        company_name="Exemple SAS",
        company_signature="Le service relance client",
        debtor_name="Boulangerie Durand & Fils",
        contact_name="Mme Hélène Dupré",
        agent_name="Service relance client",
        agent_email="relances@exemple.fr",
        payment=payment(),
        invoices=TWO,
        total="2 980,00 €",
        due_date="02/10/2026",
    )
    values.update(extra)
    return DebtorEmail(**values)


CASES = {
    "reminder_promise": context(
        "reminder_promise",
        agent_name="Léa Martin",
        agent_email="lea.martin@exemple.fr",
        amount="2 980,00 €",
        due_date="30/11/2026",
    ),
    "reminder_instalment": context(
        "reminder_instalment",
        amount="1 000,00 €",
        due_date="30/12/2026",
        sequence=2,
        instalment_count=3,
        invoices=[],
        total="3 000,00 €",
        payment=payment(amount="1 000,00 €"),
    ),
    "ladder_preventive": context(
        "ladder_preventive",
        invoices=ONE,
        total="1 250,50 €",
        payment=payment("411C00042 FA-2026-000123", "1 250,50 €"),
    ),
    "ladder_reminder_1": context("ladder_reminder_1"),
    "ladder_reminder_2": context(
        "ladder_reminder_2", previous_reminder_date="03/10/2026", payment=payment(transfer=False)
    ),
}


def test_every_template_has_a_case():
    assert set(CASES) == {"reminder_promise", "reminder_instalment", *LADDER_TEMPLATES}


@pytest.mark.parametrize("template", sorted(CASES))
@pytest.mark.parametrize("part", ["txt", "html"])
def test_reminder_matches_its_snapshot(template, part):
    rendered = render_email(CASES[template])
    body = rendered.text if part == "txt" else rendered.html
    content = f"Objet : {rendered.subject}\n\n{body}"
    snapshot = SNAPSHOTS / f"{template}.{part}"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(content)
    assert snapshot.exists(), f"instantané absent : {snapshot} (UPDATE_SNAPSHOTS=1)"
    assert content == snapshot.read_text()


def test_promise_reminder_states_amount_date_invoices_and_payment_details():
    rendered = render_email(CASES["reminder_promise"])
    assert rendered.subject == "Rappel : règlement de 2 980,00 € prévu le 30/11/2026 — Exemple SAS"
    for expected in ("2 980,00 €", "30/11/2026", "FA-2026-000187", "FR76 3000", "AGRIFRPPXXX"):
        assert expected in rendered.text and expected in rendered.html
    assert "Durand &amp; Fils" in rendered.html


def test_instalment_reminder_names_its_rank_in_the_plan():
    rendered = render_email(CASES["reminder_instalment"])
    assert "Rappel : échéance 2/3 de 1 000,00 € le 30/12/2026" in rendered.subject
    assert "l'échéance 2 sur 3" in rendered.text


def test_preventive_email_is_a_quality_check_not_a_demand():
    rendered = render_email(CASES["ladder_preventive"])
    assert rendered.subject == "Votre facture FA-2026-000123 : tout est-il en ordre ? — Exemple SAS"
    for expected in ("La facture est-elle bien reçue ?", "La prestation vous convient-elle ?"):
        assert expected in rendered.text
    body = rendered.text.lower().split("pour toute question")[0]
    assert "relance" not in body and "impayé" not in body


def test_plural_and_singular_wording_follow_the_invoice_count():
    many = render_email(CASES["ladder_reminder_1"])
    one = render_email(context("ladder_reminder_1", invoices=ONE))
    assert "les factures suivantes" in many.text and "restent à régler" in many.text
    assert "la facture suivante" in one.text and "reste à régler" in one.text
    assert many.subject.startswith("Vos factures FA-2026-000123, FA-2026-000187 arrivées")


def test_second_reminder_recalls_the_first_one_and_offers_a_plan():
    text = render_email(CASES["ladder_reminder_2"]).text
    assert "Malgré notre précédent message du 03/10/2026" in text
    assert "échéancier" in text
    assert "IBAN" not in text and "411C00042" in text


def test_unknown_template_is_refused():
    with pytest.raises(ValueError):
        render_email(context("nope"))
