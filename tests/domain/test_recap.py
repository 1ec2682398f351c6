"""Recap emails: one per kind of outcome, French, with the agreed terms; snapshot-tested.

Run with ``UPDATE_SNAPSHOTS=1`` after a deliberate wording change, then review the diff.
"""

import os
from dataclasses import replace
from pathlib import Path

import pytest

from callcenter.domain.debtor_mail import (
    RECAP_TEMPLATES,
    DebtorEmail,
    MailInstalment,
    MailInvoice,
    render_email,
)
from callcenter.domain.payment import PaymentDetails

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots" / "emails"

INVOICES = [
    MailInvoice("FA-2026-000123", "02/09/2026", "02/10/2026", "1 250,50 €", "1 250,50 €"),
    MailInvoice("FA-2026-000187", "15/09/2026", "15/10/2026", "2 229,50 €", "1 729,50 €"),
]


PAYMENT = PaymentDetails(
    beneficiary="Exemple SAS",
    iban="FR76 3000 6000 0112 3456 7890 189",
    bic="AGRIFRPPXXX",
    reference="411C00042 FA-2026-000123",
    amount="2 980,00 €",
    phone="04 65 71 38 03",
    epc="BCD\n002\n1\nSCT\nAGRIFRPPXXX\nExemple SAS\nFR7630006000011234567890189\nEUR2980.00"
    "\n\n\n411C00042 FA-2026-000123",
)
NO_TRANSFER = PaymentDetails("Exemple SAS", "", "", "411C00042", "", "", "")


def context(template: str, **extra) -> DebtorEmail:
    values = dict(
        template=template,
        company_name="Exemple SAS",
        company_signature="Le service relance client",
        debtor_name="Boulangerie Durand & Fils",
        contact_name="Mme Hélène Dupré",
        agent_name="Léa Martin",
        agent_email="lea.martin@exemple.fr",
        call_date="23/11/2026",
        payment=PAYMENT,
        invoices=INVOICES,
    )
    values.update(extra)
    return DebtorEmail(**values)


CASES = {
    "promise": context(
        "promise",
        amount="2 980,00 €",
        due_date="30/11/2026",
        total="2 980,00 €",
        notes="Virement groupé.",
    ),
    "payment_plan": context(
        "payment_plan",
        invoices=[],
        amount="1 000,00 €",
        total="2 980,00 €",
        payment=replace(PAYMENT, reference="411C00042", amount="1 000,00 €"),
        instalments=[
            MailInstalment(1, "30/11/2026", "1 000,00 €"),
            MailInstalment(2, "30/12/2026", "1 000,00 €"),
            MailInstalment(3, "30/01/2027", "980,00 €"),
        ],
    ),
    "dispute": context(
        "dispute",
        dispute_category="Qualité",
        dispute_description="Palettes livrées abîmées <3 sur 10>",
        dispute_handler="Notre service clients",
    ),
    "invoice_resend": context("invoice_resend"),
    "already_paid": context("already_paid"),
    "attempt": context("attempt", payment=NO_TRANSFER),
}


def test_every_template_has_a_case():
    assert set(CASES) == set(RECAP_TEMPLATES)


@pytest.mark.parametrize("template", sorted(CASES))
@pytest.mark.parametrize("part", ["txt", "html"])
def test_recap_matches_its_snapshot(template, part):
    rendered = render_email(CASES[template])
    body = rendered.text if part == "txt" else rendered.html
    content = f"Objet : {rendered.subject}\n\n{body}"
    snapshot = SNAPSHOTS / f"recap_{template}.{part}"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(content)
    assert snapshot.exists(), f"instantané absent : {snapshot} (UPDATE_SNAPSHOTS=1)"
    assert content == snapshot.read_text()


def test_html_escapes_what_the_agent_typed():
    html = render_email(CASES["dispute"]).html
    assert "&lt;3 sur 10&gt;" in html and "<3 sur 10>" not in html
    assert "Durand &amp; Fils" in render_email(CASES["promise"]).html


def test_promise_recap_states_the_terms():
    rendered = render_email(CASES["promise"])
    assert rendered.subject == (
        "Récapitulatif de notre appel : règlement de 2 980,00 € prévu le 30/11/2026"
    )
    for expected in ("2 980,00 €", "30/11/2026", "FA-2026-000123", "FR76 3000", "AGRIFRPPXXX"):
        assert expected in rendered.text and expected in rendered.html


def test_a_missing_value_is_an_error_not_a_blank():
    with pytest.raises(ValueError):
        render_email(context("no_such_template"))
