"""Recap emails: one per kind of outcome, French, with the agreed terms; snapshot-tested.

Run with ``UPDATE_SNAPSHOTS=1`` after a deliberate wording change, then review the diff.
"""

import os
from pathlib import Path

import pytest

from callcenter.domain.recap import (
    SUBJECTS,
    RecapContext,
    RecapInstalment,
    RecapInvoice,
    render_recap,
)

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots" / "emails"

INVOICES = [
    RecapInvoice("FA-2026-000123", "02/09/2026", "02/10/2026", "1 250,50 €", "1 250,50 €"),
    RecapInvoice("FA-2026-000187", "15/09/2026", "15/10/2026", "2 229,50 €", "1 729,50 €"),
]


def context(template: str, **extra) -> RecapContext:
    values = dict(
        template=template,
        company_name="Exemple SAS",
        company_signature="Le service relance client",
        debtor_name="Boulangerie Durand & Fils",
        contact_name="Mme Hélène Dupré",
        agent_name="Léa Martin",
        agent_email="lea.martin@exemple.fr",
        call_date="23/11/2026",
        payment_reference="411C00042 FA-2026-000123",
        iban="FR76 3000 6000 0112 3456 7890 189",
        bic="AGRIFRPPXXX",
        invoices=INVOICES,
    )
    values.update(extra)
    return RecapContext(**values)


CASES = {
    "promise": context(
        "promise", amount="2 980,00 €", promised_date="30/11/2026", notes="Virement groupé."
    ),
    "payment_plan": context(
        "payment_plan",
        amount="2 980,00 €",
        instalments=[
            RecapInstalment(1, "30/11/2026", "1 000,00 €"),
            RecapInstalment(2, "30/12/2026", "1 000,00 €"),
            RecapInstalment(3, "30/01/2027", "980,00 €"),
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
    "attempt": context("attempt", iban="", bic=""),
}


def test_every_template_has_a_case():
    assert set(CASES) == set(SUBJECTS)


@pytest.mark.parametrize("template", sorted(CASES))
@pytest.mark.parametrize("part", ["txt", "html"])
def test_recap_matches_its_snapshot(template, part):
    rendered = render_recap(CASES[template])
    body = rendered.text if part == "txt" else rendered.html
    content = f"Objet : {rendered.subject}\n\n{body}"
    snapshot = SNAPSHOTS / f"recap_{template}.{part}"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(content)
    assert snapshot.exists(), f"instantané absent : {snapshot} (UPDATE_SNAPSHOTS=1)"
    assert content == snapshot.read_text()


def test_html_escapes_what_the_agent_typed():
    html = render_recap(CASES["dispute"]).html
    assert "&lt;3 sur 10&gt;" in html and "<3 sur 10>" not in html
    assert "Durand &amp; Fils" in render_recap(CASES["promise"]).html


def test_promise_recap_states_the_terms():
    rendered = render_recap(CASES["promise"])
    assert rendered.subject == (
        "Récapitulatif de notre appel : règlement de 2 980,00 € prévu le 30/11/2026"
    )
    for expected in ("2 980,00 €", "30/11/2026", "FA-2026-000123", "FR76 3000", "AGRIFRPPXXX"):
        assert expected in rendered.text and expected in rendered.html


def test_a_missing_value_is_an_error_not_a_blank():
    with pytest.raises(ValueError):
        render_recap(context("no_such_template"))
