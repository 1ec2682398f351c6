"""The FEC import against three real files (see ../shared/fec/README.md) and crafted ones."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from callcenter.domain.imports.fec import is_payment_type
from callcenter.formatting import money
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


def test_second_real_fec_cash_basis_payment_type_sub_accounts_are_not_debtors(engine):
    report = do_import(engine, "fec", shared_file("fec/000000000FEC20231231.txt"))
    assert report.ok, report.lines()
    assert report.counts["debtors"].total == 0
    assert report.counts["invoices"].total == 0
    assert report.counts["payments"].total == 0
    assert report.skipped_count == 153
    assert {issue.column for issue in report.skipped} == {"IdClient"}
    assert report.skipped[0].line == 51
    assert "CCB « RECETTE CB » : un moyen de paiement" in report.skipped[0].message
    assert "Colonnes supplémentaires ignorées : DateRglt, ModeRglt, NatOp." in report.notes
    [note] = [n for n in report.notes if "non attribuable" in n]
    assert note.startswith("153 écritures client non attribuables, ignorées")
    assert (
        "CCB « RECETTE CB » (134), CCHQ « RECETTE CHQ » (10), CESP « RECETTE ESPECES » (7), "
        "CVIR « RECETTES VIREMENT » (2) sont des moyens de paiement"
    ) in note
    assert "la colonne IdClient, vide sur ces écritures," in note
    assert f"{money(18777084)} au débit (ventes), {money(15999914)} au crédit" in note
    assert row_counts(engine)["debtors"] == 0


CASH_HEADER = HEADER.rstrip("|\n") + "|DateRglt|ModeRglt|NatOp|IdClient\n"


def _cash_line(journal, account, aux, name, piece, debit, credit, client):
    return (
        f"{journal}|{journal}|0|20240105|{account}|CLIENTS|{aux}|{name}|{piece}|20240105|lib|"
        f"{debit}|{credit}||||||20240105|CH||{client}\n"
    )


def test_cash_basis_fec_maps_id_client_to_debtor_or_skips(engine, tmp_path):
    text = CASH_HEADER + "".join(
        [
            _cash_line("ve", "411000", "CCB", "RECETTE CB", "F1", "120,00", "0,00", "DUPONT"),
            _cash_line("bq", "411000", "CCB", "RECETTE CB", "REM", "0,00", "120,00", "DUPONT"),
            _cash_line("ve", "411000", "CESP", "Clients espèces", "F5", "50,00", "0,00", ""),
            _cash_line("bq", "411000", "CESP", "Clients espèces", "ESP", "0,00", "20,00", ""),
            _cash_line(
                "ve", "411000", "CCHQ", "Règlements chèques", "F2", "80,00", "0,00", "CMART"
            ),
            _cash_line("ve", "411000", "CMART", "Boulangerie Martin", "F3", "300,00", "0,00", ""),
            _cash_line("ve", "411000", "", "", "F4", "40,00", "0,00", "LEROY"),
            _cash_line("ve", "411000", "", "", "F6", "10,00", "0,00", ""),
            _cash_line("ve", "706000", "", "", "F1", "0,00", "100,00", ""),
        ]
    )
    path = write(tmp_path, "cash.txt", text)
    report = do_import(engine, "fec", path)
    assert report.ok, report.lines()
    assert [(i.line, i.column) for i in report.skipped] == [
        (4, "IdClient"),
        (5, "IdClient"),
        (9, "CompAuxNum"),
    ]
    assert report.counts["debtors"].created == 3
    assert report.counts["invoices"].created == 4
    assert report.counts["payments"].created == 1
    assert any(
        note.startswith("3 clients identifiés par la colonne IdClient") for note in report.notes
    )
    [note] = [n for n in report.notes if "non attribuable" in n]
    assert note.startswith("2 écritures client non attribuables")
    assert "CESP « Clients espèces » (2)" in note
    assert f"{money(5000)} au débit (ventes), {money(2000)} au crédit" in note
    with Session(engine) as session:
        debtors = {d.account_code: d.name for d in session.exec(select(Debtor))}
        assert debtors == {"DUPONT": "DUPONT", "CMART": "Boulangerie Martin", "LEROY": "LEROY"}
        owners = {
            i.number: (code, i.open_amount_cents)
            for i, code in session.exec(
                select(Invoice, Debtor.account_code).join(Debtor, Debtor.id == Invoice.debtor_id)
            )
        }
        assert owners == {
            "F1": ("DUPONT", 0),
            "F2": ("CMART", 8000),
            "F3": ("CMART", 30000),
            "F4": ("LEROY", 4000),
        }
        leroy = session.exec(select(Debtor).where(Debtor.account_code == "LEROY")).one()
        leroy.name = "Garage Leroy"
        session.add(leroy)
        session.commit()
    again = do_import(engine, "fec", path)
    assert again.ok, again.lines()
    assert again.counts["debtors"].unchanged == 3
    with Session(engine) as session:
        names = set(session.exec(select(Debtor.name)))
        assert names == {"DUPONT", "Boulangerie Martin", "Garage Leroy"}


def test_payment_type_sub_account_in_a_standard_fec_is_skipped(engine, tmp_path):
    text = HEADER + "".join(
        [
            _line("VE", "20240105", "411000", "CA", "Alpha", "FA1", "100,00", "0,00"),
            _line("VE", "20240105", "411000", "CCB", "Carte bancaire", "Z1", "30,00", "0,00"),
        ]
    )
    report = do_import(engine, "fec", write(tmp_path, "fec.txt", text))
    assert report.ok, report.lines()
    assert [(i.line, i.column) for i in report.skipped] == [(3, "CompAuxNum")]
    assert "aucune colonne IdClient" in report.skipped[0].message
    assert report.counts["debtors"].created == 1
    assert any("le fichier, sans colonne IdClient," in note for note in report.notes)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("RECETTE CB", True),
        ("RECETTES VIREMENT", True),
        ("Clients espèces", True),
        ("Carte bancaire", True),
        ("Règlements par chèque", True),
        ("CHEQUES VACANCES", True),
        ("LAURENT PRIMEURS", False),
        ("Client attente", False),
        ("CLIENTS DIVERS", False),
        ("Ventes à crédit", False),
        ("Caisse d'Épargne Île-de-France", False),
        ("", False),
    ],
)
def test_payment_type_labels(label, expected):
    assert is_payment_type(label) is expected


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


def test_fec_amount_with_a_third_decimal_is_refused_and_nothing_written(engine, tmp_path):
    text = HEADER + _line("VE", "20240115", "411000", "CA", "Alpha", "FA1", "0,005", "0,00")
    before = row_counts(engine)
    report = do_import(engine, "fec", write(tmp_path, "fec.txt", text))
    assert [(line, column) for line, column, _ in messages(report)] == [(2, "Debit/Credit")]
    assert "« 0,005 »" in messages(report)[0][2]
    assert row_counts(engine) == before


def test_fec_date_outside_the_accepted_years_is_refused_and_nothing_written(engine, tmp_path):
    text = HEADER + _line("VE", "99991231", "411000", "CA", "Alpha", "FA1", "10,00", "0,00")
    before = row_counts(engine)
    report = do_import(engine, "fec", write(tmp_path, "fec.txt", text))
    assert sorted((line, column) for line, column, _ in messages(report)) == [
        (2, "EcritureDate"),
        (2, "PieceDate"),
    ]
    assert "années 1990 à 2100" in messages(report)[0][2]
    assert row_counts(engine) == before


def test_a_cp850_fec_is_read_with_its_accents_and_the_encoding_is_reported(engine, tmp_path):
    text = HEADER + _line("VE", "20240115", "411000", "CA", "Société Générale", "FA1", "10,00", "")
    text += _line("VE", "20240116", "411000", "CB", "ÉCOLE ÉLÉMENTAIRE", "FA2", "20,00", "")
    path = tmp_path / "fec.txt"
    path.write_bytes(text.replace("||||\n", "||||\r\n").encode("cp850"))
    report = do_import(engine, "fec", path)
    assert report.ok, report.lines()
    assert "encodage CP850 (DOS)" in report.notes[0]
    with Session(engine) as session:
        names = set(session.exec(select(Debtor.name)).all())
    assert names == {"Société Générale", "ÉCOLE ÉLÉMENTAIRE"}


def test_fec_with_carriage_return_line_endings_is_read(engine, tmp_path):
    text = HEADER + _line("VE", "20240115", "411000", "CA", "Alpha", "FA1", "10,00", "0,00")
    report = do_import(engine, "fec", write(tmp_path, "fec.txt", text.replace("\n", "\r")))
    assert report.ok, report.lines()
    with Session(engine) as session:
        assert session.exec(select(Debtor.name)).all() == ["Alpha"]


@pytest.mark.parametrize(
    "content", ["Code client;Nom\nC1;X\n", "JournalCode\tCompteNum\nVE\t411\n"]
)
def test_a_file_that_is_not_a_fec_is_refused(engine, tmp_path, content):
    report = do_import(engine, "fec", write(tmp_path, "x.txt", content))
    assert not report.ok
    assert "n'est pas un FEC" in messages(report)[0][2]
    with Session(engine) as session:
        assert session.exec(select(Payment)).all() == []
