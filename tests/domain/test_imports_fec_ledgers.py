"""A FEC read as a ledger: cut lines refused with their line, unbalanced entries reported,
credit balances kept as the customer's credit (three real FECs in ../shared/fec/)."""

from __future__ import annotations

import hashlib

import pytest
from sqlmodel import Session, select

from callcenter.domain.imports.fec import is_payment_type
from callcenter.models import Debtor, Invoice, Payment, PaymentAllocation
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
            "Ligne incomplète : 13 colonnes lues, 18 attendues d'après l'en-tête "
            "(ligne coupée ou séparateur manquant).",
        )
    ]
    assert "  Ligne 4 : Ligne incomplète : 13 colonnes lues" in "\n".join(report.lines())
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
        "Attention : 1 écriture déséquilibrée (débits différents des crédits). Un FEC ne "
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


def _credits(engine) -> dict[str, int]:
    with Session(engine) as session:
        return {d.account_code: d.credit_cents for d in session.exec(select(Debtor))}


def _open(engine) -> dict[str, int]:
    with Session(engine) as session:
        return {i.number: i.open_amount_cents for i in session.exec(select(Invoice))}


def test_an_opening_credit_balance_becomes_the_customers_credit_then_pays_the_next_invoice(
    engine, tmp_path
):
    """An unlettered opening-balance credit (journal AN) found no invoice: it was marked
    unmatched and the customer showed 0,00 € instead of a credit of 56,03 €."""
    opening = _line(1, "411000", "C1", "Client C1", "AN", "0,00", "56,03", journal="AN") + _line(
        1, "110000", "", "", "AN", "56,03", "0,00", journal="AN"
    )
    report = do_import(engine, "fec", write(tmp_path, "an.txt", HEADER + opening))
    assert report.ok, report.lines()
    assert report.allocation["unmatched"] == 1
    assert report.allocation["credit_cents"] == 5603
    assert any(
        note.startswith("56,03\u00a0€ de règlements non affectés à une facture")
        for note in report.notes
    ), report.notes
    assert _credits(engine) == {"C1": 5603}
    with Session(engine) as session:
        payment = session.exec(select(Payment)).one()
        assert (payment.unallocated_cents, payment.unmatched) == (5603, True)

    later = HEADER + _sale(7, "C1", "F7", "100,00")
    report = do_import(engine, "fec", write(tmp_path, "later.txt", later))
    assert report.ok, report.lines()
    assert (
        "Crédit déjà au compte de 1 débiteur affecté aux factures ouvertes : 56,03\u00a0€ "
        "sur 1 facture, dont 0 soldée."
    ) in report.notes
    assert _open(engine) == {"F7": 10000 - 5603}
    assert _credits(engine) == {"C1": 0}
    with Session(engine) as session:
        payment = session.exec(select(Payment)).one()
        assert (payment.unallocated_cents, payment.unmatched) == (0, False)
        assert session.exec(select(PaymentAllocation.amount_cents)).all() == [5603]


def test_credit_pays_invoices_imported_later_from_a_csv_oldest_first(engine, tmp_path):
    debtors = "Code client;Raison sociale\nC1;Martin\n"
    assert do_import(engine, "debtors", write(tmp_path, "d.csv", debtors)).ok
    pay = "Code client;Référence;Date de règlement;Montant\nC1;VIR-1;10/03/2025;150,00\n"
    assert do_import(engine, "payments", write(tmp_path, "p.csv", pay)).ok
    assert _credits(engine) == {"C1": 15000}
    invoices = (
        "Code client;N° facture;Date facture;Échéance;Montant TTC\n"
        "C1;F-2;01/04/2025;30/04/2025;100,00\n"
        "C1;F-1;01/03/2025;31/03/2025;100,00\n"
    )
    report = do_import(engine, "invoices", write(tmp_path, "i.csv", invoices))
    assert report.ok, report.lines()
    assert _open(engine) == {"F-1": 0, "F-2": 5000}
    assert _credits(engine) == {"C1": 0}


def test_a_changed_payment_without_invoice_moves_the_credit_instead_of_adding_to_it(
    engine, tmp_path
):
    debtors = "Code client;Raison sociale\nC1;Martin\n"
    assert do_import(engine, "debtors", write(tmp_path, "d.csv", debtors)).ok
    pay = "Code client;Référence;Date de règlement;Montant\nC1;VIR-1;10/03/2025;40,00\n"
    assert do_import(engine, "payments", write(tmp_path, "p.csv", pay)).ok
    assert _credits(engine) == {"C1": 4000}
    changed = write(tmp_path, "p2.csv", pay.replace("40,00", "60,00"))
    assert do_import(engine, "payments", changed).counts["payments"].updated == 1
    assert _credits(engine) == {"C1": 6000}


def _ledger(path) -> tuple[dict[str, int], int]:
    """Σ debit − Σ credit per customer sub-account (411 with CompAuxNum naming a customer, or
    the IdClient of a cash-basis line), and the 411 lines no customer can be given."""
    text = path.read_bytes().decode("utf-8-sig").replace("\r", "\n")
    rows = [line.split("\t") for line in text.split("\n") if line.strip()]
    at = {title.strip(): n for n, title in enumerate(rows[0])}
    ledger: dict[str, int] = {}
    unattributed = 0
    for cells in rows[1:]:
        if not cells[at["CompteNum"]].startswith("411"):
            continue
        debit, credit = (int(cells[at[name]].replace(",", "")) for name in ("Debit", "Credit"))
        aux = cells[at["CompAuxNum"]].strip()
        client = cells[at["IdClient"]].strip() if "IdClient" in at else ""
        if aux and not is_payment_type(cells[at["CompAuxLib"]].strip() or aux):
            ledger[aux] = ledger.get(aux, 0) + debit - credit
        elif client:
            ledger[client] = ledger.get(client, 0) + debit - credit
        else:
            unattributed += 1
    return ledger, unattributed


def _owed(engine) -> dict[str, int]:
    """Open invoices minus the debtor's credit, per account code."""
    owed = {code: -credit for code, credit in _credits(engine).items()}
    with Session(engine) as session:
        for code, open_cents in session.exec(
            select(Debtor.account_code, Invoice.open_amount_cents).join(Invoice)
        ):
            owed[code] += open_cents
    return owed


@pytest.mark.parametrize(
    ("relative", "customers", "unattributed"),
    [(REAL_FECS[0], 17, 0), (REAL_FECS[1], 0, 153), (REAL_FECS[2], 0, 4)],
)
def test_every_customer_of_each_real_fec_owes_its_ledger_balance_to_the_cent(
    engine, relative, customers, unattributed
):
    """Open invoices minus credit = Σ debit − Σ credit of the customer's sub-account, lettering
    groups with opening-balance (AN) lines included; imported twice, still to the cent."""
    path = shared_file(relative)
    ledger, skipped = _ledger(path)
    assert (len(ledger), skipped) == (customers, unattributed)
    report = do_import(engine, "fec", path)
    assert report.ok, report.lines()
    assert report.skipped_count == unattributed
    assert _owed(engine) == ledger
    again = do_import(engine, "fec", path)
    assert again.ok, again.lines()
    assert again.counts["payments"].created == 0
    assert _owed(engine) == ledger


def test_an_invoice_corrected_below_what_was_paid_gives_the_excess_back_as_credit(engine, tmp_path):
    """An invoice of 100 € paid, imported again at 80 €: the 20 € were lost (open amount
    floored at zero), now they are the debtor's credit and pay the next invoice."""
    assert do_import(engine, "debtors", write(tmp_path, "d.csv", "Code client;Nom\nC1;M\n")).ok
    header = "Code client;N° facture;Date facture;Échéance;Montant TTC\n"
    first = header + "C1;F-1;01/03/2025;31/03/2025;100,00\n"
    assert do_import(engine, "invoices", write(tmp_path, "i1.csv", first)).ok
    pay = "Code client;Référence;Date de règlement;Montant\nC1;VIR-1;10/03/2025;100,00\n"
    assert do_import(engine, "payments", write(tmp_path, "p.csv", pay)).ok
    assert _open(engine) == {"F-1": 0} and _credits(engine) == {"C1": 0}
    corrected = header + "C1;F-1;01/03/2025;31/03/2025;80,00\n"
    report = do_import(engine, "invoices", write(tmp_path, "i2.csv", corrected))
    assert report.ok, report.lines()
    assert (
        "20,00\u00a0€ déjà payés au-delà du nouveau montant de factures corrigées à la "
        "baisse : rendus au crédit des débiteurs."
    ) in report.notes
    assert _credits(engine) == {"C1": 2000}
    with Session(engine) as session:
        assert session.exec(select(PaymentAllocation.amount_cents)).all() == [8000]
        assert session.exec(select(Payment.unallocated_cents)).one() == 2000
    later = header + "C1;F-2;01/04/2025;30/04/2025;50,00\n"
    assert do_import(engine, "invoices", write(tmp_path, "i3.csv", later)).ok
    assert _open(engine) == {"F-1": 0, "F-2": 3000}
    assert _credits(engine) == {"C1": 0}


def test_a_corrected_re_export_updates_the_edited_line_instead_of_adding_a_payment(
    engine, tmp_path
):
    """The payment's identity was label + date: a re-exported FEC with one label edited added a
    second payment and allocated it. Lines are now known by journal, entry number, line within
    the entry and account; the edited line is reported and its payment kept."""
    path = shared_file(REAL_FECS[0])
    first = do_import(engine, "fec", path)
    assert first.ok, first.lines()
    payments = first.counts["payments"].created
    text = path.read_bytes().decode("utf-8-sig")
    lines = text.split("\n")
    edited = next(
        n
        for n, line in enumerate(lines)
        if (cells := line.split("\t"))[4:5] == ["411000"] and cells[12] != "0,00"
    )
    cells = lines[edited].split("\t")
    cells[10] = cells[10] + " (libellé corrigé)"
    lines[edited] = "\t".join(cells)
    copy = write(tmp_path, "corrige.txt", "\ufeff" + "\n".join(lines))
    report = do_import(engine, "fec", copy)
    assert report.ok, report.lines()
    assert report.counts["payments"].created == 0
    notes = [note for note in report.notes if "contenu modifié" in note]
    assert len(notes) == 1 and notes[0].startswith(
        f"Ligne {edited + 1} : contenu modifié depuis le dernier import (journal "
    ), notes
    with Session(engine) as session:
        assert len(session.exec(select(Payment)).all()) == payments
    assert _owed(engine) == _ledger(path)[0]


def test_payments_stored_under_the_former_label_and_date_reference_are_not_added_again(
    engine, tmp_path
):
    """A FEC imported before lines were known by their entry: its payments keep their place."""
    receipt = _line(4, "411000", "C1", "Client C1", "R1", "0,00", "30,00", journal="BQ") + _line(
        4, "512000", "", "", "R1", "30,00", "0,00", journal="BQ"
    )
    path = write(tmp_path, "fec.txt", HEADER + _sale(1, "C1", "F1", "100,00") + receipt)
    assert do_import(engine, "fec", path).ok
    former = "FEC-" + hashlib.sha1(b"BQ|2025-01-15|C1|R1|3000|Vente|1").hexdigest()[:24]
    with Session(engine) as session:
        payment = session.exec(select(Payment)).one()
        payment.reference = former
        session.commit()
    report = do_import(engine, "fec", path)
    assert report.ok, report.lines()
    assert report.counts["payments"].created == 0
    assert not [note for note in report.notes if "contenu modifié" in note]
    with Session(engine) as session:
        assert session.exec(select(Payment.reference)).one().startswith("FEC-")
        assert session.exec(select(Payment.reference)).one() != former
    assert _open(engine) == {"F1": 7000}


def test_piece_references_of_the_first_real_fec_are_its_invoice_numbers(engine):
    """Each PieceRef of the file belongs to one entry: one invoice per piece, rule stated."""
    report = do_import(engine, "fec", shared_file(REAL_FECS[0]), dry_run=True)
    assert report.ok, report.lines()
    assert report.counts["invoices"].created == 400
    assert (
        "Factures : une par numéro de pièce (PieceRef), chaque numéro de pièce n'apparaissant "
        "que dans une seule écriture : ce sont des numéros de facture."
    ) in report.notes


def test_monthly_piece_references_give_one_invoice_per_sales_entry_dated_by_its_piece(
    engine, tmp_path
):
    """The first real FEC with its sales pieces renamed by month (« 03/2022 »), as many
    ledgers do: grouped by PieceRef, a month's invoices became one, dated by its first."""
    path = shared_file(REAL_FECS[0])
    rows = [line.split("\t") for line in path.read_bytes().decode("utf-8-sig").split("\n")]
    expected: dict[tuple[str, str, str, str], str] = {}
    for cells in rows[1:]:
        if len(cells) < 13:
            continue
        if cells[0] == "VEN":
            cells[8] = f"{cells[9][4:6]}/{cells[9][:4]}"
        debit = int(cells[11].replace(",", ""))
        if cells[4].startswith("411") and cells[6].strip() and debit > 0:
            key = (cells[6].strip(), cells[0].strip(), cells[2].strip(), cells[3])
            expected[key] = min(expected.get(key, cells[9]), cells[9])
    monthly = write(tmp_path, "mensuel.txt", "\n".join("\t".join(cells) for cells in rows))
    report = do_import(engine, "fec", monthly)
    assert report.ok, report.lines()
    assert report.counts["invoices"].created == len(expected) == 400
    rule = [note for note in report.notes if note.startswith("Factures : ")]
    assert len(rule) == 1 and rule[0].startswith(
        "Factures : une par numéro de pièce (PieceRef) quand il n'apparaît que dans une seule "
        "écriture ; "
    ), rule
    assert "leurs lignes donnent une facture par écriture de vente et par client" in rule[0]
    with Session(engine) as session:
        issued = sorted(d.strftime("%Y%m%d") for d in session.exec(select(Invoice.issue_date)))
    assert issued == sorted(expected.values())
    assert _owed(engine) == _ledger(path)[0]


def test_only_a_recurring_piece_reference_is_split_by_entry_the_others_stay_numbers(
    engine, tmp_path
):
    """Decided per piece: one monthly reference does not renumber the file's invoices."""
    text = (
        HEADER
        + _sale(1, "C1", "F1", "100,00")
        + _sale(2, "C1", "03/2025", "40,00")
        + _sale(3, "C2", "03/2025", "25,00")
        + _sale(4, "C1", "03/2025", "10,00")
    )
    report = do_import(engine, "fec", write(tmp_path, "fec.txt", text))
    assert report.ok, report.lines()
    assert _open(engine) == {
        "F1": 10000,
        "03/2025 · VE 2": 4000,
        "03/2025 · VE 3": 2500,
        "03/2025 · VE 4": 1000,
    }
    assert any("« 03/2025 » (3 écritures)" in note for note in report.notes), report.notes
