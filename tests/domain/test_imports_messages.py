"""Import messages that misled: a workbook named .csv, a FEC with CR line endings, English
words from the system or a library inside a French message (issue #20)."""

from __future__ import annotations

import re

import pytest
from openpyxl import Workbook

from tests.conftest import shared_file
from tests.domain.imports_helpers import do_import, row_counts, write
from tests.domain.test_imports_fec_ledgers import REAL_FECS
from tests.domain.test_imports_fuzz import _is_french

# What the system and the libraries say (« No such file or directory », « Permission denied »,
# « File is not a zip file », « unsupported format »): none of it may reach a user.
ENGLISH_WORDS = re.compile(
    r"\b(?:no such|directory|denied|not|found|cannot|could|unsupported|file is|zip file"
    r"|please|invalid|error|expected)\b",
    re.I,
)


def _french_only(message: str) -> bool:
    return _is_french(message) and not ENGLISH_WORDS.search(message.split("«")[0])


def test_an_excel_workbook_named_csv_is_read_as_a_workbook_and_said_so(engine, tmp_path):
    """It was refused as « fichier tronqué ou endommagé »."""
    workbook = Workbook()
    workbook.active.append(["Code client", "Raison sociale"])
    workbook.active.append(["C1", "Boulangerie Martin"])
    workbook.save(tmp_path / "clients.csv")
    report = do_import(engine, "debtors", tmp_path / "clients.csv")
    assert report.ok, report.lines()
    assert report.counts["debtors"].created == 1
    assert (
        "Fichier lu : classeur XLSX, feuille « Sheet » (fichier Excel (xlsx) nommé .csv, lu "
        "comme un classeur)."
    ) in report.notes
    assert not any("endommagé" in line for line in report.lines())


def test_a_broken_workbook_named_csv_is_refused_in_french(engine, tmp_path):
    before = row_counts(engine)
    path = write(tmp_path, "clients.csv", "")
    path.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 40)
    report = do_import(engine, "debtors", path)
    assert report.refused and _french_only(report.refused), report.refused
    assert row_counts(engine) == before


@pytest.mark.parametrize("relative", REAL_FECS)
def test_a_real_fec_with_old_mac_line_endings_reads_as_with_its_own(engine, tmp_path, relative):
    """CR-only endings (old Mac exports) once read as one line: « colonne(s) absente(s) :
    Idevise »."""
    path = shared_file(relative)
    raw = path.read_bytes()
    cr = write(tmp_path, "fec-cr.txt", "")
    cr.write_bytes(raw.replace(b"\r\r\n", b"\r").replace(b"\r\n", b"\r").replace(b"\n", b"\r"))
    original = do_import(engine, "fec", path, dry_run=True)
    report = do_import(engine, "fec", cr, dry_run=True)
    assert report.ok, report.lines()
    assert not any("absente" in line for line in report.lines())
    assert report.rows == original.rows
    assert report.counts == original.counts
    assert report.skipped_count == original.skipped_count


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("absent.csv", lambda path: None),
        ("dossier.csv", lambda path: path.mkdir()),
        ("classeur.xlsx", lambda path: path.write_bytes(b"PK\x03\x04 not a zip")),
        ("champ.csv", lambda path: path.write_text("Code client;Nom\nC1;" + "x" * 200_000)),
        ("nul.csv", lambda path: path.write_bytes(b"Code client;Nom\nC1;M\x00\n")),
        ("image.csv", lambda path: path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))),
    ],
)
def test_no_import_message_holds_an_english_word(engine, tmp_path, name, make):
    """« Fichier illisible : No such file or directory » and the like."""
    path = tmp_path / name
    make(path)
    report = do_import(engine, "debtors", path)
    said = [report.refused] if report.refused else []
    said += [issue.message for issue in report.errors]
    assert said, report.lines()
    for message in said:
        assert _french_only(message), message


@pytest.mark.parametrize("name", ["absent.csv", "dossier"])
def test_the_cli_refuses_a_missing_file_or_a_folder_in_french(tmp_path, database_url, name):
    """click's own check said « Path 'absent.csv' does not exist. »"""
    from tests.domain.test_imports_cli import _run

    (tmp_path / "dossier").mkdir()
    result = _run(tmp_path, database_url, "debtors", str(tmp_path / name), "--dry-run")
    assert result.exit_code != 0
    said = result.output.strip().splitlines()[-1]
    assert said.startswith("Fichier refusé : Fichier illisible : "), result.output
    assert _french_only(said.split(" — ")[-1]), result.output
