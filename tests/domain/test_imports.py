"""Imports of debtors, contacts, invoices and payments from CSV and XLSX files."""

from __future__ import annotations

import zipfile
from datetime import date

import pytest
from openpyxl import Workbook
from sqlmodel import Session, func, select

from callcenter.domain.imports import values
from callcenter.models import Contact, Debtor, Event, ImportMapping, Invoice, Payment
from tests.domain.imports_helpers import (
    DEBTORS_CSV,
    do_import,
    messages,
    row_counts,
    write,
)


def _debtors(engine, tmp_path):
    report = do_import(engine, "debtors", write(tmp_path, "clients.csv", DEBTORS_CSV))
    assert report.ok, report.lines()
    return report


INVOICES_CSV = (
    "Code client;N° facture;Date facture;Échéance;Montant TTC;Reste dû\n"
    "C001;F-001;15/01/2025;14/02/2025;1 250,50;1 250,50\n"
    "C001;F-002;20/01/2025;19/02/2025;300,00;\n"
    "C002;F-003;01/02/2025;03/03/2025;\u00a0 2\u00a0000,00;500,00\n"
)


# --- values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 250,50", 125050),
        ("1\u00a0250,5", 125050),
        ("1\u202f250,50 €", 125050),
        ("0000000074,70", 7470),
        ("12", 1200),
        ("1.250,50", 125050),
        ("1250.50", 125050),
        (1250.5, 125050),
        ("1.234,56", 123456),
        ("1,234.56", 123456),
        ("12.345.678,90", 1234567890),
        ("-3,2", -320),
        (",5", 50),
    ],
)
def test_french_amounts_are_read_in_cents(text, expected):
    assert values.cents(text, allow_negative=True) == expected


@pytest.mark.parametrize("text", ["1,234", "1.234", "0,005", "12,5000", "1 234,567"])
def test_a_third_decimal_is_refused_never_rounded(text):
    """« 1,234 » was read as 1,23 € and « 0,005 » as 0; « 1.234 » is ambiguous (README)."""
    with pytest.raises(values.BadValue) as refused:
        values.cents(text)
    assert refused.value.message.startswith(f"Montant ambigu « {text} » : plus de deux décimales")


@pytest.mark.parametrize("text", ["12,345,67", "1.234.567", "1.23.456,00", "1,2.34", "12.3456,00"])
def test_malformed_thousands_grouping_is_refused(text):
    with pytest.raises(values.BadValue) as refused:
        values.cents(text)
    assert refused.value.message.startswith(f"Montant invalide « {text} »")


def test_an_ambiguous_amount_in_a_file_is_refused_with_its_line_and_nothing_written(
    engine, tmp_path
):
    _debtors(engine, tmp_path)
    before = row_counts(engine)
    bad = (
        "Code client;N° facture;Date facture;Échéance;Montant TTC\n"
        "C001;F-1;15/01/2025;;1,234\n"
        "C001;F-2;15/01/2025;;12,345,67\n"
        "C001;F-3;15/01/2025;;1.234,56\n"
    )
    report = do_import(engine, "invoices", write(tmp_path, "bad.csv", bad))
    assert [(line, column) for line, column, _ in messages(report)] == [
        (2, "Montant TTC"),
        (3, "Montant TTC"),
    ]
    assert "« 1,234 »" in messages(report)[0][2] and "« 12,345,67 »" in messages(report)[1][2]
    assert row_counts(engine) == before


@pytest.mark.parametrize("text", ["abc", "12,3,4", "-5,00", ""])
def test_bad_or_negative_amounts_are_refused_in_french(text):
    with pytest.raises(values.BadValue) as refused:
        values.cents(text)
    assert "Montant" in refused.value.message


@pytest.mark.parametrize(
    "value",
    ["21 474 836,48", "30 000 000,00", "99999999999999999999", "1e12", 3e7, float("inf")],
)
def test_amounts_beyond_32_bit_cents_are_refused_in_french(value):
    with pytest.raises(values.BadValue, match="Montant (trop élevé|invalide)"):
        values.cents(value, allow_negative=True)


def test_the_largest_amount_read_is_21_474_836_47_euros():
    assert values.cents("21 474 836,47") == values.MAX_CENTS == 2**31 - 1
    assert values.cents("-21 474 836,47", allow_negative=True) == -values.MAX_CENTS


def test_dates_siren_phone_email():
    assert values.parse_date("15/01/2025") == date(2025, 1, 15)
    assert values.parse_date("20250115") == date(2025, 1, 15)
    with pytest.raises(values.BadValue, match="n'existe pas"):
        values.parse_date("31/02/2025")
    with pytest.raises(values.BadValue, match="jj/mm/aaaa"):
        values.parse_date("janvier")
    assert values.siren("732 829 320") == "732829320"
    assert values.siren("73282932000074") == "732829320"
    with pytest.raises(values.BadValue, match="SIREN invalide"):
        values.siren("123456789")
    assert values.phone("01 42 68 53 00") == "+33142685300"
    with pytest.raises(values.BadValue, match="téléphone invalide"):
        values.phone("12")
    with pytest.raises(values.BadValue, match="e-mail invalide"):
        values.email("compta@")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15.01.25", date(2025, 1, 15)),
        ("2025-01-15", date(2025, 1, 15)),
        ("2025-01-15 00:00:00", date(2025, 1, 15)),
        ("15/01/2025 10:30", date(2025, 1, 15)),
    ],
)
def test_dates_with_a_time_of_day_or_a_short_year(text, expected):
    assert values.parse_date(text, years=(1990, 2100)) == expected


@pytest.mark.parametrize("text", ["2024-01-15junk", "15/01/2025x", "2024-01-15T", "15/01/20255"])
def test_trailing_junk_after_a_date_is_refused(text):
    with pytest.raises(values.BadValue, match=f"Date invalide « {text} »"):
        values.parse_date(text)


@pytest.mark.parametrize("text", ["01/01/0001", "31/12/9999", "31/12/1989", "01/01/2101"])
def test_dates_outside_the_accepted_years_are_refused_naming_the_range(text):
    """« 01/01/0001 » was read as 2001: a four-digit year is read as written, then checked."""
    with pytest.raises(values.BadValue) as refused:
        values.parse_date(text, years=(1990, 2100))
    assert refused.value.message.startswith(f"Date hors de la plage acceptée « {text} »")
    assert "1990 à 2100" in refused.value.message


def test_bad_dates_in_a_file_are_refused_with_line_and_column_and_nothing_written(engine, tmp_path):
    _debtors(engine, tmp_path)
    before = row_counts(engine)
    bad = (
        "Code client;N° facture;Date facture;Échéance;Montant TTC\n"
        "C001;F-1;2024-01-15junk;;10,00\n"
        "C001;F-2;01/01/0001;;10,00\n"
        "C001;F-3;31/12/9999;;10,00\n"
        "C001;F-4;15/01/2025;01/01/2200;10,00\n"
    )
    report = do_import(engine, "invoices", write(tmp_path, "bad.csv", bad))
    assert [(line, column) for line, column, _ in messages(report)] == [
        (2, "Date facture"),
        (3, "Date facture"),
        (4, "Date facture"),
        (5, "Échéance"),
    ]
    assert "1990 à 2100" in messages(report)[1][2]
    assert row_counts(engine) == before


def test_the_accepted_years_come_from_the_import_settings(engine, tmp_path, settings):
    _debtors(engine, tmp_path)
    narrow = settings.model_copy(
        update={"imports": settings.imports.model_copy(update={"earliest_year": 2025})}
    )
    text = "Code client;N° facture;Date facture;Montant TTC\nC001;F-1;15/01/2024;10,00\n"
    before = row_counts(engine)
    report = do_import(engine, "invoices", write(tmp_path, "f.csv", text), settings=narrow)
    assert messages(report) == [
        (
            2,
            "Date facture",
            "Date hors de la plage acceptée « 15/01/2024 » : années 2025 à 2100 "
            "(réglage [imports] earliest_year / latest_year).",
        )
    ]
    assert row_counts(engine) == before
    assert do_import(engine, "invoices", write(tmp_path, "f.csv", text), settings=settings).ok


# --- debtors and contacts -------------------------------------------------------------------


def test_debtors_import_then_reimport_is_idempotent(engine, tmp_path):
    first = _debtors(engine, tmp_path)
    assert first.counts["debtors"].created == 3
    with Session(engine) as session:
        martin = session.exec(select(Debtor).where(Debtor.account_code == "C001")).one()
        assert (martin.siren, martin.payment_terms_days) == ("732829320", 45)
        dubois = session.exec(select(Debtor).where(Debtor.account_code == "C002")).one()
        assert dubois.payment_terms_days == 30
    again = _debtors(engine, tmp_path)
    assert (again.counts["debtors"].created, again.counts["debtors"].unchanged) == (0, 3)
    renamed = DEBTORS_CSV.replace("Garage Leroy", "Garage Leroy et Fils")
    changed = do_import(engine, "debtors", write(tmp_path, "v2.csv", renamed))
    assert (changed.counts["debtors"].updated, changed.counts["debtors"].unchanged) == (1, 2)


def test_debtor_postal_address_is_imported_and_updated(engine, tmp_path):
    csv = (
        "Code client;Raison sociale;Adresse;Complément d'adresse;CP;Ville;Pays\n"
        "C010;Scierie Vallée;Lieu-dit Les Granges;BP 12;88100;Saint-Dié-des-Vosges;France\n"
    )
    report = do_import(engine, "debtors", write(tmp_path, "adresses.csv", csv))
    assert report.ok, report.errors
    with Session(engine) as session:
        debtor = session.exec(select(Debtor).where(Debtor.account_code == "C010")).one()
        assert (debtor.address_line1, debtor.address_line2, debtor.postal_code) == (
            "Lieu-dit Les Granges",
            "BP 12",
            "88100",
        )
        assert (debtor.city, debtor.country) == ("Saint-Dié-des-Vosges", "France")
    moved = csv.replace("88100;Saint-Dié-des-Vosges", "88000;Épinal")
    again = do_import(engine, "debtors", write(tmp_path, "adresses2.csv", moved))
    assert again.counts["debtors"].updated == 1
    with Session(engine) as session:
        debtor = session.exec(select(Debtor).where(Debtor.account_code == "C010")).one()
        assert (debtor.postal_code, debtor.city) == ("88000", "Épinal")


def test_debtor_errors_write_nothing(engine, tmp_path):
    before = row_counts(engine)
    bad = "Code client;Raison sociale;SIREN;Couleur\nC001;Boulangerie Martin;123456789;bleu\n"
    report = do_import(engine, "debtors", write(tmp_path, "bad.csv", bad))
    assert not report.ok
    assert messages(report)[0][:2] == (1, "Couleur")
    assert "Colonne inconnue « Couleur »" in messages(report)[0][2]
    bad = "Code client;Raison sociale;SIREN\nC001;Martin;123456789\nC001;Martin bis;\n;Sans code;\n"
    report = do_import(engine, "debtors", write(tmp_path, "bad2.csv", bad))
    assert messages(report) == [
        (
            2,
            "SIREN",
            "SIREN invalide « 123456789 » : 9 chiffres avec une clé de contrôle correcte.",
        ),
        (3, "Code client", "Débiteur « C001 » en double dans le fichier (déjà ligne 2)."),
        (4, "Code client", "Valeur obligatoire manquante."),
    ]
    assert row_counts(engine) == before


def test_missing_required_column_is_named(engine, tmp_path):
    report = do_import(
        engine, "invoices", write(tmp_path, "f.csv", "Code client;Montant TTC\nC1;1\n")
    )
    text = " ".join(message for _l, _c, message in messages(report))
    assert "Colonne obligatoire absente : « N° facture »" in text
    assert "« Date facture »" in text


def test_contacts_phone_e164_email_and_errors(engine, tmp_path):
    _debtors(engine, tmp_path)
    csv = (
        "Code client,Nom du contact,Fonction,Téléphone,E-mail,Contact facturation\n"
        'C001,Anne Martin,Comptable,"01 42 68 53 00",compta@martin.example,oui\n'
        "C002,Paul Dubois,Gérant,06 12 34 56 78,,non\n"
    )
    report = do_import(engine, "contacts", write(tmp_path, "contacts.csv", csv))
    assert report.ok, report.lines()
    assert report.counts["contacts"].created == 2
    with Session(engine) as session:
        anne = session.exec(select(Contact).where(Contact.full_name == "Anne Martin")).one()
        assert (anne.phone, anne.email, anne.is_billing) == (
            "+33142685300",
            "compta@martin.example",
            True,
        )
    again = do_import(engine, "contacts", write(tmp_path, "contacts.csv", csv))
    assert (again.counts["contacts"].created, again.counts["contacts"].unchanged) == (0, 2)
    bad = (
        "Code client,Nom du contact,Téléphone,E-mail\nC001,Anne Martin,12,compta@\nC999,Inconnu,,\n"
    )
    before = row_counts(engine)
    report = do_import(engine, "contacts", write(tmp_path, "bad.csv", bad))
    assert messages(report) == [
        (2, "Téléphone", "Numéro de téléphone invalide « 12 »."),
        (2, "E-mail", "Adresse e-mail invalide « compta@ »."),
        (3, "Code client", "Débiteur inconnu « C999 » : importez d'abord les débiteurs."),
    ]
    assert row_counts(engine) == before


def test_contacts_civility_as_written(engine, tmp_path):
    _debtors(engine, tmp_path)
    csv = (
        "Code client;Civilité;Nom du contact;E-mail\n"
        "C001;Mme;Anne Martin;compta@martin.example\n"
        "C002;M.;Paul Dubois;\n"
    )
    report = do_import(engine, "contacts", write(tmp_path, "civilites.csv", csv))
    assert report.ok, report.lines()
    with Session(engine) as session:
        civilities = {c.full_name: c.civility for c in session.exec(select(Contact)).all()}
    assert civilities == {"Anne Martin": "Madame", "Paul Dubois": "Monsieur"}
    bad = "Code client;Civilité;Nom du contact\nC001;Dr;Anne Martin\n"
    report = do_import(engine, "contacts", write(tmp_path, "bad.csv", bad))
    assert messages(report) == [
        (2, "Civilité", "Civilité « Dr » non reconnue : attendu Madame ou Monsieur.")
    ]


# --- invoices -------------------------------------------------------------------------------


def test_invoices_csv_created_then_unchanged_then_updated(engine, tmp_path):
    _debtors(engine, tmp_path)
    path = write(tmp_path, "factures.csv", INVOICES_CSV)
    dry = do_import(engine, "invoices", path, dry_run=True)
    assert dry.ok and dry.counts["invoices"].created == 3
    with Session(engine) as session:
        assert session.exec(select(Invoice)).all() == []
    first = do_import(engine, "invoices", path)
    assert (first.counts["invoices"].created, first.rows) == (3, 3)
    with Session(engine) as session:
        invoices = {i.number: i for i in session.exec(select(Invoice))}
        assert invoices["F-001"].amount_cents == 125050
        assert invoices["F-002"].open_amount_cents == 30000
        assert invoices["F-003"].open_amount_cents == 50000
        assert invoices["F-003"].due_date == date(2025, 3, 3)
        touched = session.exec(select(Event).where(Event.type == "import")).all()
        created = sorted(e.payload.get("invoices_created", 0) for e in touched)
        assert created[-2:] == [1, 2]
        applied = session.exec(select(Event).where(Event.type == "import.applied")).all()
        assert [e.payload["kind"] for e in applied] == ["debtors", "invoices"]
        assert applied[1].payload["invoices"]["created"] == 3
    again = do_import(engine, "invoices", path)
    assert (again.counts["invoices"].created, again.counts["invoices"].unchanged) == (0, 3)
    updated = do_import(
        engine, "invoices", write(tmp_path, "v2.csv", INVOICES_CSV.replace("300,00", "350,00"))
    )
    counts = updated.counts["invoices"]
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 2)
    with Session(engine) as session:
        f2 = session.exec(select(Invoice).where(Invoice.number == "F-002")).one()
        assert (f2.amount_cents, f2.open_amount_cents) == (35000, 35000)


def test_an_amount_beyond_32_bit_cents_is_refused_and_nothing_written(engine, tmp_path):
    """PostgreSQL stores money in 32-bit integers: a larger amount is a French error on its
    line on every database, never an overflow of the database."""
    _debtors(engine, tmp_path)
    before = row_counts(engine)
    csv = (
        "Code client;N° facture;Date facture;Échéance;Montant TTC\n"
        "C001;F-1;15/01/2025;14/02/2025;1 000,00\n"
        "C001;F-BIG;15/01/2025;14/02/2025;30 000 000,00\n"
    )
    report = do_import(engine, "invoices", write(tmp_path, "f.csv", csv))
    assert messages(report) == [
        (3, "Montant TTC", "Montant trop élevé « 30 000 000,00 » : au plus 21 474 836,47 €.")
    ]
    payments = "Code client;Date;Montant;Référence\nC001;20/02/2025;25 000 000,00;VIR-BIG\n"
    refused = do_import(engine, "payments", write(tmp_path, "p.csv", payments))
    assert [message for _, _, message in messages(refused)] == [
        "Montant trop élevé « 25 000 000,00 » : au plus 21 474 836,47 €."
    ]
    assert row_counts(engine) == before


def test_invoice_due_date_derived_from_debtor_terms(engine, tmp_path):
    _debtors(engine, tmp_path)
    csv = "Code client;N° facture;Date facture;Montant TTC\nC001;F-9;15/01/2025;100\n"
    report = do_import(engine, "invoices", write(tmp_path, "f.csv", csv))
    assert any("délai de paiement du débiteur" in note for note in report.notes)
    with Session(engine) as session:
        invoice = session.exec(select(Invoice)).one()
        assert invoice.due_date == date(2025, 3, 1)


def test_invoice_errors_are_listed_and_nothing_is_written(engine, tmp_path):
    _debtors(engine, tmp_path)
    before = row_counts(engine)
    bad = (
        "Code client;N° facture;Date facture;Échéance;Montant TTC\n"
        "C001;F-1;31/02/2025;;10,00\n"
        "C001;F-2;15/01/2025;01/01/2025;10,00\n"
        "C001;F-3;15/01/2025;;-5,00\n"
        "C999;F-4;15/01/2025;;5,00\n"
        "C001;F-2;15/01/2025;;5,00\n"
        "C002;F-5;15/01/2025;;abc\n"
        "C002;F-6;15/01/2025;;12,00\n"
    )
    report = do_import(engine, "invoices", write(tmp_path, "bad.csv", bad))
    assert sorted(messages(report)) == [
        (2, "Date facture", "Date impossible « 31/02/2025 » : ce jour n'existe pas."),
        (3, "Échéance", "L'échéance (01/01/2025) précède la date de facture (15/01/2025)."),
        (4, "Montant TTC", "Montant négatif « -5,00 » : un montant doit être positif ou nul."),
        (5, "Code client", "Débiteur inconnu « C999 » : importez d'abord les débiteurs."),
        (6, "N° facture", "Facture « F-2 » en double dans le fichier (déjà ligne 3)."),
        (7, "Montant TTC", "Montant invalide « abc » : attendu par exemple 1 250,50."),
    ]
    assert row_counts(engine) == before


def test_windows_1252_comma_separated_quoted(engine, tmp_path):
    _debtors(engine, tmp_path)
    csv = (
        "Code client,N° facture,Date facture,Échéance,Montant TTC\r\n"
        'C001,"FAC-é1",15/01/2025,14/02/2025,"1 250,50"\r\n'
    )
    report = do_import(engine, "invoices", write(tmp_path, "f.csv", csv, encoding="cp1252"))
    assert report.ok, report.lines()
    assert "Windows-1252" in report.notes[0] and "virgule" in report.notes[0]
    with Session(engine) as session:
        assert session.exec(select(Invoice.number)).one() == "FAC-é1"


def test_utf8_bom_header_is_recognised(engine, tmp_path):
    _debtors(engine, tmp_path)
    report = do_import(
        engine, "invoices", write(tmp_path, "f.csv", INVOICES_CSV, encoding="utf-8-sig")
    )
    assert report.ok, report.lines()
    assert "UTF-8 avec BOM" in report.notes[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "Le fichier est vide."),
        (b"\x00\x01\x02\x03binaire" * 10, "Fichier binaire"),
        (b"%PDF-1.4 whatever", "PDF"),
        (b"PK\x03\x04tronque" + b"\x00" * 50, "Fichier Excel illisible"),
        (
            "Code client;N° facture\n".encode("cp1252") + b"\x81\xb0\xb1\xb2\xdb\n",
            "Encodage non reconnu",
        ),
    ],
)
def test_files_that_are_not_what_they_claim_are_refused_in_french(
    engine, tmp_path, content, expected
):
    path = tmp_path / "fichier.csv"
    path.write_bytes(content)
    report = do_import(engine, "invoices", path)
    assert not report.ok
    assert expected in report.refused


def test_wrong_encoding_in_the_middle_is_refused_with_its_line(engine, tmp_path):
    _debtors(engine, tmp_path)
    head = INVOICES_CSV.encode()
    body = b"".join(f"C001;G-{n};15/01/2025;14/02/2025;10,00\n".encode() for n in range(20_000))
    path = tmp_path / "f.csv"
    path.write_bytes(head + body + b"C001;\xe9t\xe9;15/01/2025;;1,00\n")
    before = row_counts(engine)
    report = do_import(engine, "invoices", path)
    assert report.refused and "caractères illisibles" in report.refused
    assert row_counts(engine) == before


def test_carriage_return_line_endings_of_old_mac_exports_are_read(engine, tmp_path):
    _debtors(engine, tmp_path)
    text = INVOICES_CSV.replace("\n", "\r") + 'C002;"F-4";01/02/2025;;5,00\r'
    report = do_import(engine, "invoices", write(tmp_path, "mac.csv", text))
    assert report.ok, report.lines()
    assert report.counts["invoices"].created == 4
    with Session(engine) as session:
        assert set(session.exec(select(Invoice.number)).all()) == {"F-001", "F-002", "F-003", "F-4"}


@pytest.mark.parametrize("separator", [";", "\t"])
def test_a_nul_byte_after_the_first_256_kib_is_refused_with_its_line(engine, tmp_path, separator):
    _debtors(engine, tmp_path)
    head = INVOICES_CSV.replace(";", separator).encode()
    body = b"".join(
        f"C001;G-{n};15/01/2025;14/02/2025;10,00\n".replace(";", separator).encode()
        for n in range(20_000)
    )
    assert len(head + body) > 256 * 1024
    path = tmp_path / "f.csv"
    path.write_bytes(
        head + body + "C001;G\x00x;15/01/2025;;1,00\n".replace(";", separator).encode()
    )
    before = row_counts(engine)
    report = do_import(engine, "invoices", path)
    assert report.refused == (
        "Fichier binaire ou endommagé : caractère nul (octet 0x00) ligne 20005 ; attendu un "
        "fichier CSV (texte) ou un classeur XLSX."
    )
    assert row_counts(engine) == before


def test_a_nul_byte_near_the_start_is_refused_with_its_line(engine, tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(INVOICES_CSV.encode() + b"C001;F-9\x00;15/01/2025;;1,00\n")
    report = do_import(engine, "invoices", path)
    assert "caractère nul (octet 0x00) ligne 5" in report.refused


@pytest.mark.parametrize(
    ("encoding", "name", "expected"),
    [
        ("cp850", "CP850 (DOS)", "Société Générale, ÉCOLE Noël"),
        ("cp1252", "Windows-1252", "Société Générale — ÉCOLE Noël 5 €"),
        ("iso-8859-15", "ISO-8859-15", "Société Générale, Cœur de Lion 5 €"),
        ("utf-8", "UTF-8", "Société Générale ÉCOLE ‚"),
    ],
)
def test_the_encoding_is_detected_from_the_bytes_and_named_in_the_report(
    engine, tmp_path, encoding, name, expected
):
    """CP850 (é is 0x82, É is 0x90) was read as Windows-1252 (« Soci‚t‚ ») or refused."""
    text = f"Code client;Raison sociale\nC001;{expected}\nC002;Crédit Agricole\n"
    path = tmp_path / "clients.csv"
    path.write_bytes(text.encode(encoding))
    report = do_import(engine, "debtors", path)
    assert report.ok, report.lines()
    assert f"encodage {name}," in report.notes[0]
    with Session(engine) as session:
        names = set(session.exec(select(Debtor.name)).all())
    assert names == {expected, "Crédit Agricole"}


def test_utf8_and_windows_1252_lines_in_one_file_are_refused_at_the_first_odd_byte(
    engine, tmp_path
):
    path = tmp_path / "clients.csv"
    path.write_bytes(
        "Code client;Raison sociale\nC001;Société Générale\n".encode()
        + "C002;Crédit Agricole\n".encode("cp1252")
    )
    before = row_counts(engine)
    report = do_import(engine, "debtors", path)
    assert report.refused == (
        "Ligne 3 : encodages mélangés (UTF-8 et un autre encodage) dans le même fichier ; "
        "enregistrez le fichier entier en CSV UTF-8."
    )
    assert row_counts(engine) == before


def test_a_utf8_line_past_the_sample_of_a_windows_1252_file_is_refused_not_stored_as_mojibake(
    engine, tmp_path
):
    head = "Code client;Raison sociale\nC000;Société\n".encode("cp1252")
    body = b"".join(f"C{n:05};Client {n}\n".encode() for n in range(1, 20_000))
    assert len(head + body) > 256 * 1024
    path = tmp_path / "clients.csv"
    path.write_bytes(head + body + "C99999;Générale\n".encode())
    before = row_counts(engine)
    report = do_import(engine, "debtors", path)
    assert report.refused.startswith("Ligne 20002 : encodages mélangés")
    assert row_counts(engine) == before


def _xlsx(path, rows):
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def test_xlsx_invoices_with_real_dates_and_numbers(engine, tmp_path):
    _debtors(engine, tmp_path)
    path = _xlsx(
        tmp_path / "factures.xlsx",
        [
            ["Code client", "N° facture", "Date facture", "Échéance", "Montant TTC"],
            ["C001", "X-1", date(2025, 1, 15), date(2025, 2, 14), 1250.5],
            ["C002", 1002, "15/01/2025", "14/02/2025", "99,90"],
        ],
    )
    report = do_import(engine, "invoices", path)
    assert report.ok, report.lines()
    assert "XLSX" in report.notes[0]
    with Session(engine) as session:
        invoices = {i.number: i for i in session.exec(select(Invoice))}
    assert invoices["X-1"].amount_cents == 125050
    assert invoices["X-1"].issue_date == date(2025, 1, 15)
    assert invoices["1002"].amount_cents == 9990


def test_truncated_xlsx_is_refused(engine, tmp_path):
    good = _xlsx(tmp_path / "ok.xlsx", [["Code client"], ["C1"]])
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    report = do_import(engine, "debtors", broken)
    assert report.refused and "tronqué" in report.refused


def spoiled_xlsx(path, spoil):
    """A valid XLSX of two debtors whose first sheet's XML is changed by ``spoil``; the zip
    around it stays valid."""
    good = _xlsx(
        path.with_name("intact.xlsx"), [["Code client", "Raison sociale"], ["C9", "Scierie"]]
    )
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as spoiled:
        for name in source.namelist():
            data = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = spoil(data)
            spoiled.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


# How the sheet is spoiled, and what the refusal says after « Fichier Excel illisible : ».
SPOILED_SHEETS = {
    "entité XML inconnue": (
        lambda xml: xml.replace(b"<t>", b"<t>&inconnue;", 1),
        "le contenu XML de la feuille « Sheet » est invalide",
    ),
    "XML coupé": (
        lambda xml: xml[: len(xml) // 2],
        "le contenu XML de la feuille « Sheet » est invalide",
    ),
    "chaîne partagée absente, ligne 2": (
        lambda xml: xml.replace(
            b'<c r="A2" t="inlineStr"><is><t>C9</t></is></c>', b'<c r="A2" t="s"><v>999</v></c>'
        ),
        "fichier tronqué ou endommagé",
    ),
}


@pytest.mark.parametrize("spoil", sorted(SPOILED_SHEETS))
def test_a_spoiled_xlsx_sheet_is_refused_in_french_and_nothing_written(engine, tmp_path, spoil):
    change, expected = SPOILED_SHEETS[spoil]
    path = spoiled_xlsx(tmp_path / "clients.xlsx", change)
    before = row_counts(engine)
    report = do_import(engine, "debtors", path)
    assert report.refused.startswith("Fichier Excel illisible : " + expected)
    assert row_counts(engine) == before


def test_large_generated_file_streams_and_reimports_unchanged(engine, tmp_path):
    _debtors(engine, tmp_path)
    lines = ["Code client;N° facture;Date facture;Échéance;Montant TTC"]
    lines += [
        f"C00{1 + n % 3};L{n:06d};{1 + n % 28:02d}/01/2025;{1 + n % 28:02d}/03/2025;"
        f"{n % 5000} {n % 1000:03d},{n % 100:02d}"
        for n in range(20_000)
    ]
    path = write(tmp_path, "gros.csv", "\n".join(lines) + "\n")
    seen = []
    report = do_import(engine, "invoices", path, progress=lambda done, total: seen.append(done))
    assert report.ok and report.counts["invoices"].created == 20_000
    assert seen and seen[-1] == path.stat().st_size
    again = do_import(engine, "invoices", path)
    assert (again.counts["invoices"].unchanged, again.counts["invoices"].created) == (20_000, 0)


def test_explicit_mapping_is_saved_and_reused(engine, tmp_path):
    _debtors(engine, tmp_path)
    csv = "Client n°;Num;Emise le;Total;Commentaire\nC001;Z-1;15/01/2025;10,00;rien\n"
    path = write(tmp_path, "erp.csv", csv)
    mapping = {
        "Client n°": "account_code",
        "Num": "number",
        "Emise le": "issue_date",
        "Total": "amount",
        "Commentaire": "",
    }
    report = do_import(engine, "invoices", path, mapping_name="ERP", explicit_mapping=mapping)
    assert report.ok, report.lines()
    with Session(engine) as session:
        saved = session.exec(select(ImportMapping)).one()
        assert (saved.name, saved.kind, saved.mapping["Num"]) == ("ERP", "invoices", "number")
    csv2 = csv.replace("Z-1", "Z-2")
    again = do_import(engine, "invoices", write(tmp_path, "erp2.csv", csv2), mapping_name="ERP")
    assert again.ok and again.counts["invoices"].created == 1
    unknown = do_import(engine, "invoices", write(tmp_path, "erp3.csv", csv2))
    assert not unknown.ok


# --- payments and allocation ------------------------------------------------------------------


def _with_invoices(engine, tmp_path):
    _debtors(engine, tmp_path)
    csv = (
        "Code client;N° facture;Date facture;Échéance;Montant TTC\n"
        "C001;A-1;01/01/2025;31/01/2025;100,00\n"
        "C001;A-2;01/02/2025;28/02/2025;200,00\n"
        "C001;A-3;01/03/2025;31/03/2025;300,00\n"
        "C002;B-1;01/01/2025;31/01/2025;50,00\n"
    )
    assert do_import(engine, "invoices", write(tmp_path, "inv.csv", csv)).ok


def _state(engine):
    with Session(engine) as session:
        invoices = {
            i.number: (i.open_amount_cents, i.status) for i in session.exec(select(Invoice))
        }
        payments = {
            p.reference: (p.unallocated_cents, p.unmatched) for p in session.exec(select(Payment))
        }
        credits = {d.account_code: d.credit_cents for d in session.exec(select(Debtor))}
    return invoices, payments, credits


def test_payments_allocate_explicit_first_then_oldest_with_credit_and_unmatched(engine, tmp_path):
    _with_invoices(engine, tmp_path)
    csv = (
        "Code client;Référence;Date de règlement;Montant;N° facture\n"
        "C001;VIR-1;10/03/2025;300,00;A-3\n"
        "C001;VIR-2;11/03/2025;150,00;\n"
        "C002;VIR-3;12/03/2025;80,00;\n"
        "C003;VIR-4;12/03/2025;40,00;\n"
    )
    report = do_import(engine, "payments", write(tmp_path, "pay.csv", csv))
    assert report.ok, report.lines()
    assert report.counts["payments"].created == 4
    assert report.allocation == {
        "allocations": 4,
        "paid_invoices": 3,
        "credit_payments": 1,
        "unmatched": 1,
        "credit_cents": 7000,
    }
    assert (
        "70,00\u00a0€ de règlements non affectés à une facture (trop-perçus, règlements ou "
        "avoirs sans facture ouverte), portés au crédit des débiteurs : ce crédit réduit leur "
        "solde et ira à leurs prochaines factures."
    ) in report.notes
    invoices, payments, credits = _state(engine)
    assert invoices["A-3"] == (0, "paid")
    assert invoices["A-1"] == (0, "paid")
    assert invoices["A-2"] == (15000, "open")
    assert invoices["B-1"] == (0, "paid")
    assert payments["VIR-3"] == (3000, False)
    assert credits["C002"] == 3000
    assert payments["VIR-4"] == (4000, True)
    assert credits["C003"] == 4000  # no invoice to pay: money on account, not lost
    with Session(engine) as session:
        events = session.exec(select(Event).where(Event.type == "payments.applied")).all()
        assert len(events) == 3
    again = do_import(engine, "payments", write(tmp_path, "pay.csv", csv))
    assert (again.counts["payments"].unchanged, again.counts["payments"].created) == (4, 0)
    assert _state(engine)[0] == invoices


def test_changed_payment_is_reallocated(engine, tmp_path):
    _with_invoices(engine, tmp_path)
    csv = "Code client;Référence;Date de règlement;Montant\nC001;VIR-1;10/03/2025;50,00\n"
    do_import(engine, "payments", write(tmp_path, "p.csv", csv))
    assert _state(engine)[0]["A-1"] == (5000, "open")
    report = do_import(
        engine, "payments", write(tmp_path, "p2.csv", csv.replace("50,00", "120,00"))
    )
    assert report.counts["payments"].updated == 1
    invoices, _payments, _credits = _state(engine)
    assert invoices["A-1"] == (0, "paid")
    assert invoices["A-2"] == (18000, "open")


def test_payment_errors_write_nothing(engine, tmp_path):
    _with_invoices(engine, tmp_path)
    before = row_counts(engine)
    csv = (
        "Code client;Référence;Date de règlement;Montant\n"
        "C404;VIR-1;10/03/2025;50,00\n"
        "C001;VIR-2;10/13/2025;50,00\n"
        "C001;VIR-2;10/03/2025;0\n"
    )
    report = do_import(engine, "payments", write(tmp_path, "p.csv", csv))
    assert sorted(messages(report)) == [
        (2, "Code client", "Règlement pour un débiteur inconnu « C404 »."),
        (3, "Date de règlement", "Date impossible « 10/13/2025 » : ce jour n'existe pas."),
        (4, "Montant", "Montant nul : un règlement doit être positif."),
        (4, "Référence", "Règlement « VIR-2 » en double dans le fichier (déjà ligne 3)."),
    ]
    assert row_counts(engine) == before


def test_several_staging_batches_count_once_per_debtor_and_roll_back_together(engine, tmp_path):
    _debtors(engine, tmp_path)
    header = "Code client;N° facture;Date facture;Échéance;Montant TTC"
    rows = [f"C00{1 + n % 3};M{n:06d};15/01/2025;14/02/2025;10,00" for n in range(45_000)]
    path = write(tmp_path, "trois-lots.csv", "\n".join([header, *rows]) + "\n")
    report = do_import(engine, "invoices", path)
    assert report.ok, report.lines()
    assert report.counts["invoices"].created == 45_000
    with Session(engine) as session:
        events = session.exec(select(Event).where(Event.type == "import")).all()
    created = [e.payload["invoices_created"] for e in events if "invoices_created" in e.payload]
    assert created == [15_000] * 3
    rows[40_000] = rows[40_000].replace("M040000", "M000007").replace("10,00", "99,00")
    changed = write(tmp_path, "doublon.csv", "\n".join([header, *rows]) + "\n")
    refused = do_import(engine, "invoices", changed)
    assert not refused.ok
    assert [(e.line, e.message) for e in refused.errors] == [
        (40_002, "Facture « M000007 » en double dans le fichier (déjà ligne 9).")
    ]
    with Session(engine) as session:
        kept = session.exec(select(Invoice).where(Invoice.number == "M000007")).one()
        assert kept.amount_cents == 1_000
        assert session.exec(select(func.count()).select_from(Invoice)).one() == 45_000


def test_a_line_break_inside_a_name_is_refused_with_its_line_and_column(engine, tmp_path):
    """A quoted CSV cell may hold CR/LF: stored, it broke every email header of the debtor."""
    before = row_counts(engine)
    bad = (
        "Code client;Raison sociale\n"
        'C001;"Boulangerie\r\nBcc: espion@pirate.fr"\n'
        "C002;Durand\x07 SA\n"
        "C003;Martin SA\n"
    )
    report = do_import(engine, "debtors", write(tmp_path, "sauts.csv", bad))
    assert not report.ok
    found = messages(report)
    assert [(line, column) for line, column, _text in found] == [
        (2, "Raison sociale"),
        (4, "Raison sociale"),  # the file's own line: the quoted cell above spans two
    ]
    assert all("Retour à la ligne ou caractère de contrôle" in text for *_, text in found)
    assert row_counts(engine) == before
