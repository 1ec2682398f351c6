"""The timeline speaks French: field names and counts as a reader says them."""

from __future__ import annotations

from datetime import UTC, datetime

from callcenter.domain.timeline import describe
from callcenter.models import Event

AT = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def _detail(type_: str, payload: dict) -> str:
    return describe(Event(id=1, at=AT, type=type_, payload=payload), None).detail


def test_corrected_contact_details_are_named_in_french():
    assert _detail("contact.updated", {"fields": ["email", "full_name", "phone"]}) == (
        "e-mail, nom, téléphone"
    )


def test_an_import_counts_in_french():
    detail = _detail(
        "import",
        {
            "source": "clients.csv",
            "debtor_changed": ["postal_code", "siren"],
            "invoices_created": 1,
            "invoices_updated": 2,
        },
    )
    assert detail == (
        "clients.csv — fiche mise à jour : code postal, SIREN — 1 facture créée — "
        "2 factures mises à jour"
    )
