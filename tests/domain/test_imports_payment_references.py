"""A payment reference names one payment: reused for another debtor it is refused, reused
with another date or amount it is reported, never merged without a word."""

from __future__ import annotations

from sqlmodel import Session, select

from callcenter.models import Debtor, Payment
from tests.domain.imports_helpers import do_import, messages, row_counts, write

DEBTORS = "Code client;Raison sociale\nC1;Martin\nC2;Dubois\n"
HEADER = "Code client;Référence;Date de règlement;Montant\n"


def _setup(engine, tmp_path):
    assert do_import(engine, "debtors", write(tmp_path, "d.csv", DEBTORS)).ok
    first = HEADER + "C1;VIR-1;10/03/2025;40,00\nC1;VIR-2;11/03/2025;10,00\n"
    assert do_import(engine, "payments", write(tmp_path, "p1.csv", first)).ok


def test_a_reference_reused_by_another_debtor_is_refused_and_nothing_moves(engine, tmp_path):
    _setup(engine, tmp_path)
    before = row_counts(engine)
    moved = HEADER + "C2;VIR-1;12/03/2025;40,00\n"
    report = do_import(engine, "payments", write(tmp_path, "p2.csv", moved))
    assert messages(report) == [
        (
            2,
            "Référence",
            "Référence « VIR-1 » déjà utilisée par un règlement du débiteur « C1 » "
            "(10/03/2025, 40,00\u00a0€) : un règlement ne change pas de débiteur. Donnez une "
            "référence distincte à ce règlement, ou corrigez le code client.",
        )
    ]
    assert row_counts(engine) == before
    with Session(engine) as session:
        payment = session.exec(select(Payment).where(Payment.reference == "VIR-1")).one()
        assert session.get(Debtor, payment.debtor_id).account_code == "C1"


def test_a_reference_reused_with_another_date_or_amount_is_reported_with_its_line(engine, tmp_path):
    _setup(engine, tmp_path)
    again = HEADER + "C1;VIR-2;11/03/2025;10,00\nC1;VIR-1;15/04/2025;55,00\n"
    report = do_import(engine, "payments", write(tmp_path, "p2.csv", again), dry_run=True)
    assert report.ok, report.lines()
    assert report.counts["payments"].updated == 1
    assert [note for note in report.notes if "VIR" in note or "Attention" in note] == [
        "Attention : 1 référence de règlement déjà enregistrée avec une autre date ou un "
        "autre montant.",
        "Ligne 3, colonne « Référence » : le règlement « VIR-1 » déjà enregistré (10/03/2025, "
        "40,00\u00a0€) est remplacé par 15/04/2025, 55,00\u00a0€ et affecté de nouveau ; s'il "
        "s'agit d'un autre règlement, donnez-lui une référence distincte.",
    ]
    assert "Ligne 3, colonne « Référence » : le règlement « VIR-1 »" in "\n".join(report.lines())


def test_the_same_payment_imported_again_is_unchanged_and_not_reported(engine, tmp_path):
    _setup(engine, tmp_path)
    same = HEADER + "C1;VIR-1;10/03/2025;40,00\n"
    report = do_import(engine, "payments", write(tmp_path, "p2.csv", same))
    assert report.ok and report.counts["payments"].unchanged == 1
    assert not [note for note in report.notes if "Attention" in note]
