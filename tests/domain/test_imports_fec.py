"""The FEC import against three real files (see ../shared/fec/README.md) and crafted ones."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from callcenter.models import Debtor, Invoice, Payment, PaymentAllocation
from tests.conftest import shared_file
from tests.domain.imports_helpers import do_import, messages, row_counts, write

HEADER = (
    "JournalCode|JournalLib|EcritureNum|EcritureDate|CompteNum|CompteLib|CompAuxNum|CompAuxLib|"
    "PieceRef|PieceDate|EcritureLib|Debit|Credit|EcritureLet|DateLet|ValidDate|Montantdevise|"
    "Idevise|\n"
)


def _line(journal, date, account, aux, name, piece, debit, credit, letter=""):
    return (
        f"{journal}|{journal}|1|{date}|{account}|Clients|{aux}|{name}|{piece}|{date}|lib|"
        f"{debit}|{credit}|{letter}|||||\n"
    )


def test_first_real_fec_bom_lettering_and_opening_balances(engine):
    path = shared_file("fec/0000000001FEC20220831.txt")
    dry = do_import(engine, "fec", path, dry_run=True)
    assert dry.ok, dry.lines()
    assert row_counts(engine)["invoices"] == 0
    report = do_import(engine, "fec", path, payment_terms_days=45)
    assert report.ok, report.lines()
    assert report.counts["debtors"].created == 17
    assert report.counts["invoices"].created == 400
    assert report.counts["payments"].created == 138
    assert report.skipped_count == 0
    assert any("ne contient pas d'échéance" in note for note in report.notes)
    assert "UTF-8 avec BOM" in report.notes[0]
    with Session(engine) as session:
        laurent = session.exec(select(Debtor).where(Debtor.account_code == "CLAURE")).one()
        assert (laurent.name, laurent.payment_terms_days) == ("LAURENT PRIMEURS", 45)
        opening = session.exec(select(Invoice).where(Invoice.number == "RAN / CLAURE")).one()
        assert opening.amount_cents == 613588
        assert (opening.due_date - opening.issue_date).days == 45
        assert session.exec(select(Invoice).where(Invoice.number == "AV 220002")).first() is None
        allocations = session.exec(select(PaymentAllocation)).all()
        assert len(allocations) == report.allocation["allocations"] > 300
    again = do_import(engine, "fec", path)
    assert again.counts["invoices"].unchanged == 400
    assert again.counts["payments"].unchanged == 138
    assert again.counts["debtors"].unchanged == 17


def test_second_real_fec_cash_basis_22_columns(engine):
    report = do_import(engine, "fec", shared_file("fec/000000000FEC20231231.txt"))
    assert report.ok, report.lines()
    assert report.counts["debtors"].created == 4
    assert report.counts["invoices"].created == 20
    assert report.counts["payments"].created == 133
    assert any("DateRglt, ModeRglt, NatOp, IdClient" in note for note in report.notes)
    with Session(engine) as session:
        shared = session.exec(select(Invoice.number).where(Invoice.number.like("01/2023%"))).all()
        assert sorted(shared) == ["01/2023 / CCB", "01/2023 / CESP"]


def test_third_real_fec_crlf_and_411_without_auxiliary_are_reported(engine):
    report = do_import(engine, "fec", shared_file("fec/123456789FEC20500930.txt"))
    assert report.ok, report.lines()
    assert report.skipped_count == 4
    assert [issue.line for issue in report.skipped] == [77, 7635, 8980, 8983]
    assert all(issue.column == "CompAuxNum" for issue in report.skipped)
    assert report.counts["invoices"].total == 0
    assert any("Aucune écriture client" in note for note in report.notes)


def test_lettering_matches_account_and_code_not_code_alone(engine, tmp_path):
    text = HEADER + "".join(
        [
            _line("VE", "20240105", "411000", "CA", "Alpha", "FA1", "0000000100,00", "0,00", "AA"),
            _line("VE", "20240110", "411000", "CA", "Alpha", "FA2", "50,00", "0,00"),
            _line("VE", "20240105", "411000", "CB", "Beta", "FB1", "80,00", "0,00", "AA"),
            _line("VE", "20240106", "411000", "CB", "Beta", "FB2", "20,00", "0,00"),
            _line("BQ", "20240201", "411000", "CB", "Beta", "VIR", "0,00", "80,00", "AA"),
            _line("BQ", "20240202", "411000", "CA", "Alpha", "VIR", "0,00", "50,00"),
            _line("BQ", "20240203", "401000", "F1", "Fournisseur", "X", "0,00", "9,00"),
            _line("OD", "20240203", "411000", "", "", "X", "1,00", "0,00"),
        ]
    )
    report = do_import(engine, "fec", write(tmp_path, "fec.txt", text))
    assert report.ok, report.lines()
    assert (report.skipped_count, report.counts["payments"].created) == (1, 2)
    with Session(engine) as session:
        invoices = {i.number: i.open_amount_cents for i in session.exec(select(Invoice))}
    assert invoices == {"FA1": 5000, "FA2": 5000, "FB1": 0, "FB2": 2000}


def test_fec_with_bad_values_writes_nothing(engine, tmp_path):
    text = HEADER + _line("VE", "20241301", "411000", "CA", "Alpha", "FA1", "1x", "0,00")
    before = row_counts(engine)
    report = do_import(engine, "fec", write(tmp_path, "fec.txt", text))
    assert sorted(messages(report)) == [
        (2, "Debit/Credit", "Montant invalide « 1x » : attendu par exemple 1 250,50."),
        (2, "EcritureDate", "Date impossible « 20241301 » : ce jour n'existe pas."),
        (2, "PieceDate", "Date impossible « 20241301 » : ce jour n'existe pas."),
    ]
    assert row_counts(engine) == before


@pytest.mark.parametrize(
    "content", ["Code client;Nom\nC1;X\n", "JournalCode\tCompteNum\nVE\t411\n"]
)
def test_a_file_that_is_not_a_fec_is_refused(engine, tmp_path, content):
    report = do_import(engine, "fec", write(tmp_path, "x.txt", content))
    assert not report.ok
    assert "n'est pas un FEC" in messages(report)[0][2]
    with Session(engine) as session:
        assert session.exec(select(Payment)).all() == []
