"""Every text an import stores fits its column: a longer value is refused on its line and
column, on SQLite (which would store it) as on PostgreSQL (which would fail the import)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from callcenter.domain.imports.columns import FIELDS
from callcenter.domain.imports.entities import LIMITS
from callcenter.models import Debtor
from tests.domain.imports_helpers import do_import, messages, row_counts, write

# A valid row per kind, by field; the fields with their own parser (SIREN, phone, e-mail,
# currency) are bounded by that parser.
VALID = {
    "debtors": {"account_code": "C001", "name": "Martin SA"},
    "contacts": {"account_code": "C001", "full_name": "Jeanne Martin"},
    "invoices": {
        "account_code": "C001",
        "number": "F-1",
        "issue_date": "15/01/2025",
        "amount": "10,00",
    },
    "payments": {
        "account_code": "C001",
        "reference": "VIR-1",
        "paid_on": "15/01/2025",
        "amount": "10,00",
    },
}
OWN_PARSER = {"siren", "phone", "mobile", "email", "currency", "civility"}
BOUNDED = [
    (kind, spec.name, spec.label)
    for kind, specs in FIELDS.items()
    for spec in specs
    if spec.name in LIMITS[kind] and spec.name not in OWN_PARSER
]


def _csv(kind: str, field: str | None = None, value: str = "") -> str:
    row = dict(VALID[kind])
    if field:
        row[field] = value
    labels = {spec.name: spec.label for spec in FIELDS[kind]}
    return ";".join(labels[name] for name in row) + "\n" + ";".join(row.values()) + "\n"


def test_every_short_text_field_of_every_kind_is_bounded():
    assert {(kind, name) for kind, name, _label in BOUNDED} >= {
        ("debtors", "account_code"),
        ("debtors", "name"),
        ("debtors", "postal_code"),
        ("contacts", "full_name"),
        ("contacts", "role"),
        ("invoices", "number"),
        ("payments", "reference"),
        ("payments", "method"),
        ("payments", "invoice_reference"),
    }
    assert LIMITS["debtors"]["name"] == 200 and LIMITS["payments"]["reference"] == 80


@pytest.mark.parametrize(("kind", "field", "label"), BOUNDED)
def test_a_value_longer_than_its_column_is_refused_on_its_line_and_column(
    engine, tmp_path, kind, field, label
):
    limit = LIMITS[kind][field]
    before = row_counts(engine)
    path = write(tmp_path, f"{kind}.csv", _csv(kind, field, "é" * (limit + 1)))
    report = do_import(engine, kind, path)
    assert not report.ok
    expected = (
        2,
        label,
        f"Texte trop long : {limit} caractères au plus dans cette colonne "
        f"(la cellule en a {limit + 1}).",
    )
    assert expected in messages(report), report.lines()
    assert f"Ligne 2, colonne « {label} » : Texte trop long" in "\n".join(report.lines())
    assert row_counts(engine) == before


def test_a_ten_thousand_character_name_is_refused_and_one_at_the_limit_stored(engine, tmp_path):
    before = row_counts(engine)
    long_name = _csv("debtors", "name", "A" * 10_000)
    report = do_import(engine, "debtors", write(tmp_path, "long.csv", long_name))
    assert messages(report) == [
        (
            2,
            "Raison sociale",
            "Texte trop long : 200 caractères au plus dans cette colonne "
            "(la cellule en a 10\u202f000).",
        )
    ]
    assert row_counts(engine) == before
    report = do_import(
        engine, "debtors", write(tmp_path, "ok.csv", _csv("debtors", "name", "B" * 200))
    )
    assert report.ok, report.lines()
    with Session(engine) as session:
        assert session.exec(select(Debtor.name)).one() == "B" * 200


FEC_HEADER = (
    "JournalCode|JournalLib|EcritureNum|EcritureDate|CompteNum|CompteLib|CompAuxNum|CompAuxLib|"
    "PieceRef|PieceDate|EcritureLib|Debit|Credit|EcritureLet|DateLet|ValidDate|Montantdevise|"
    "Idevise|\n"
)


def _fec_line(aux: str, name: str, piece: str = "F1") -> str:
    return (
        f"VE|Ventes|1|20250115|411000|Clients|{aux}|{name}|{piece}|20250115|Vente|"
        "120,00|0,00||||||\n"
        f"VE|Ventes|1|20250115|706000|Ventes|||{piece}|20250115|Vente|0,00|120,00||||||\n"
    )


def test_a_fec_customer_name_or_account_longer_than_its_column_is_refused_not_cut(engine, tmp_path):
    before = row_counts(engine)
    text = FEC_HEADER + _fec_line("C1", "N" * 201) + _fec_line("C" * 41, "Dupont", "F2")
    report = do_import(engine, "fec", write(tmp_path, "fec.txt", text))
    assert messages(report) == [
        (
            2,
            "CompAuxLib",
            "Texte trop long : 200 caractères au plus dans cette colonne (la cellule en a 201).",
        ),
        (
            4,
            "CompAuxNum",
            "Texte trop long : 40 caractères au plus dans cette colonne (la cellule en a 41).",
        ),
    ]
    assert row_counts(engine) == before
