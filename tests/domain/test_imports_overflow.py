"""Sums an import builds stay within the 32-bit money columns (PostgreSQL INTEGER holds
± 21 474 836,47 €): refused in French on both databases instead of ``integer out of range``
on PostgreSQL and a stored overflow on SQLite."""

from __future__ import annotations

from tests.domain.imports_helpers import do_import, messages, row_counts, write
from tests.domain.test_imports_fec_ledgers import HEADER, _line

MAX = "21\u202f474\u202f836,47\u00a0€"


def test_a_fec_invoice_whose_lines_sum_past_the_largest_amount_is_refused(engine, tmp_path):
    before = row_counts(engine)
    big = "15000000,00"
    text = (
        HEADER
        + _line(1, "411000", "C1", "Client", "F1", big, "0,00")
        + _line(1, "706000", "", "", "F1", "0,00", big)
        + _line(1, "411000", "C1", "Client", "F1", big, "0,00")
        + _line(1, "706000", "", "", "F1", "0,00", big)
    )
    report = do_import(engine, "fec", write(tmp_path, "fec.txt", text))
    assert messages(report) == [
        (
            2,
            "Debit",
            "Facture « F1 » du client « C1 » trop élevée : ses lignes au débit totalisent "
            f"30\u202f000\u202f000,00\u00a0€, au plus {MAX} par facture.",
        )
    ]
    assert row_counts(engine) == before


def test_a_debtor_credit_past_the_largest_amount_is_refused_and_nothing_written(engine, tmp_path):
    assert do_import(engine, "debtors", write(tmp_path, "d.csv", "Code client;Nom\nC1;M\n")).ok
    before = row_counts(engine)
    payments = "Code client;Référence;Date de règlement;Montant\n" + "".join(
        f"C1;VIR-{n};1{n}/03/2025;20000000,00\n" for n in range(3)
    )
    report = do_import(engine, "payments", write(tmp_path, "p.csv", payments))
    assert report.refused == (
        f"Le crédit du débiteur « C1 » dépasserait {MAX} avec le règlement « VIR-1 » "
        "(40\u202f000\u202f000,00\u00a0€) : vérifiez les règlements de ce débiteur ; rien "
        "n'a été enregistré."
    )
    assert "Fichier refusé : Le crédit du débiteur « C1 »" in "\n".join(report.lines())
    assert row_counts(engine) == before
