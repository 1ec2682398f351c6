"""A FEC read as a ledger: cut lines refused with their line, unbalanced entries reported,
credit balances kept as the customer's credit (three real FECs in ../shared/fec/)."""

from __future__ import annotations

import pytest

from tests.conftest import shared_file
from tests.domain.imports_helpers import do_import, messages, row_counts, write

HEADER = (
    "JournalCode|JournalLib|EcritureNum|EcritureDate|CompteNum|CompteLib|CompAuxNum|CompAuxLib|"
    "PieceRef|PieceDate|EcritureLib|Debit|Credit|EcritureLet|DateLet|ValidDate|Montantdevise|"
    "Idevise\n"
)
REAL_FECS = (
    "fec/0000000001FEC20220831.txt",
    "fec/000000000FEC20231231.txt",
    "fec/123456789FEC20500930.txt",
)


def _line(entry, account, aux, name, piece, debit, credit, journal="VE", date="20250115"):
    return (
        f"{journal}|Ventes|{entry}|{date}|{account}|Compte|{aux}|{name}|{piece}|{date}|Vente|"
        f"{debit}|{credit}||||||\n"
    )


def _sale(entry, aux, piece, amount):
    return _line(entry, "411000", aux, f"Client {aux}", piece, amount, "0,00") + _line(
        entry, "706000", "", "", piece, "0,00", amount
    )


def test_a_cut_fec_line_is_refused_with_its_line_and_nothing_written(engine, tmp_path):
    before = row_counts(engine)
    cut = "VE|Ventes|2|20250115|411000|Compte|C2|Client C2|F2|20250115|Vente|80,00|0,00\n"
    text = HEADER + _sale(1, "C1", "F1", "120,00") + cut + _sale(3, "C3", "F3", "10,00")
    report = do_import(engine, "fec", write(tmp_path, "fec.txt", text))
    assert messages(report) == [
        (
            4,
            None,
            "Ligne incomplète : 13 colonne(s) lue(s), 18 attendue(s) d'après l'en-tête "
            "(ligne coupée ou séparateur manquant).",
        )
    ]
    assert "  Ligne 4 : Ligne incomplète : 13 colonne(s) lue(s)" in "\n".join(report.lines())
    assert row_counts(engine) == before


def test_a_cut_line_on_a_non_customer_account_is_refused_too(engine, tmp_path):
    cut = "VE|Ventes|1|20250115|706000|Ventes|||F1|20250115\n"
    text = HEADER + _line(1, "411000", "C1", "Client", "F1", "120,00", "0,00") + cut
    report = do_import(engine, "fec", write(tmp_path, "fec.txt", text))
    assert [(line, column) for line, column, _message in messages(report)] == [(3, None)]


def test_an_unbalanced_entry_is_reported_with_its_first_line_and_the_gap(engine, tmp_path):
    unbalanced = _line(2, "411000", "C2", "Client C2", "F2", "80,00", "0,00") + _line(
        2, "706000", "", "", "F2", "0,00", "75,50"
    )
    text = HEADER + _sale(1, "C1", "F1", "120,00") + unbalanced + _sale(3, "C3", "F3", "1,00")
    report = do_import(engine, "fec", write(tmp_path, "fec.txt", text))
    assert report.ok, report.lines()
    assert report.counts["invoices"].created == 3
    notes = [note for note in report.notes if "déséquilibrée" in note]
    assert notes == [
        "Attention : 1 écriture(s) déséquilibrée(s) (débits différents des crédits). Un FEC ne "
        "contient que des écritures équilibrées : le fichier est peut-être incomplet ou "
        "modifié ; vérifiez-le avec votre expert-comptable.",
        "Ligne 4 : écriture déséquilibrée (journal VE, écriture n° 2) : 80,00\u00a0€ au débit, "
        "75,50\u00a0€ au crédit, écart de 4,50\u00a0€.",
    ]


def test_entries_are_balanced_per_journal_and_number_not_per_line(engine, tmp_path):
    """Same entry number in two journals: two entries; one entry over three lines."""
    text = (
        HEADER
        + _sale(1, "C1", "F1", "120,00")
        + _line(1, "512000", "", "", "R1", "50,00", "0,00", journal="BQ")
        + _line(1, "411000", "C1", "Client C1", "R1", "0,00", "30,00", journal="BQ")
        + _line(1, "411000", "C1", "Client C1", "R1", "0,00", "20,00", journal="BQ")
    )
    report = do_import(engine, "fec", write(tmp_path, "fec.txt", text))
    assert report.ok, report.lines()
    assert not [note for note in report.notes if "déséquilibrée" in note]


@pytest.mark.parametrize("relative", REAL_FECS)
def test_the_real_fecs_have_only_balanced_entries_and_full_lines(engine, relative):
    report = do_import(engine, "fec", shared_file(relative), dry_run=True)
    assert report.ok, report.lines()
    assert not [note for note in report.notes if "déséquilibrée" in note]
