"""Which sheet of a workbook is read, and what the sheet's declared dimension is worth."""

from __future__ import annotations

import re
import zipfile

import pytest
from openpyxl import Workbook
from sqlmodel import Session, select

from callcenter.domain.imports.columns import SHEET_KEY, load_mapping
from callcenter.domain.imports.mappings import save_column_mapping
from callcenter.domain.imports.sources import open_table
from callcenter.models import Debtor, utcnow
from tests.domain.imports_helpers import do_import, row_counts
from tests.domain.test_imports_cli import _count, _run

HEADER = ["Code client", "Raison sociale"]


def _workbook(path, sheets: dict[str, list[list]]):
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def _declaring(path, dimension: str):
    """The same workbook whose first sheet declares ``dimension`` (``A1:B2``…)."""
    source_path = path.with_name("source-" + path.name)
    path.rename(source_path)
    with zipfile.ZipFile(source_path) as source, zipfile.ZipFile(path, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data, count = re.subn(
                    rb'<dimension ref="[^"]*"', f'<dimension ref="{dimension}"'.encode(), data
                )
                assert count == 1
            target.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def _names(engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.exec(select(Debtor.account_code)).all())


def test_an_empty_first_sheet_is_passed_over_for_the_first_one_with_data(engine, tmp_path):
    path = _workbook(
        tmp_path / "clients.xlsx",
        {"Notes": [], "Clients": [HEADER, ["C1", "Martin"]], "Vide": [[None, ""]]},
    )
    report = do_import(engine, "debtors", path)
    assert report.ok, report.lines()
    assert report.notes[0] == "Fichier lu : classeur XLSX, feuille « Clients »."
    assert _names(engine) == ["C1"]


def test_data_on_several_sheets_reads_the_first_and_names_the_others(engine, tmp_path):
    path = _workbook(
        tmp_path / "clients.xlsx",
        {
            "Clients": [HEADER, ["C1", "Martin"]],
            "Anciens": [HEADER, ["C2", "Dubois"]],
            "Export": [HEADER, ["C3", "Leroy"]],
        },
    )
    report = do_import(engine, "debtors", path)
    assert report.ok, report.lines()
    assert report.notes[0] == (
        "Fichier lu : classeur XLSX, feuille « Clients » ; les feuilles « Anciens », « Export » "
        "contiennent aussi des données et ne sont pas lues (importez-les en choisissant la "
        "feuille)."
    )
    assert _names(engine) == ["C1"]


def test_a_sheet_is_chosen_by_name_and_an_unknown_name_is_refused_naming_the_sheets(
    engine, tmp_path
):
    path = _workbook(
        tmp_path / "clients.xlsx",
        {"Clients": [HEADER, ["C1", "Martin"]], "Anciens clients": [HEADER, ["C2", "Dubois"]]},
    )
    report = do_import(engine, "debtors", path, sheet=" anciens CLIENTS")
    assert report.ok, report.lines()
    assert report.notes[0] == "Fichier lu : classeur XLSX, feuille « Anciens clients »."
    assert _names(engine) == ["C2"]
    before = row_counts(engine)
    report = do_import(engine, "debtors", path, sheet="Factures")
    assert report.refused == (
        "Feuille « Factures » introuvable dans le classeur ; ses feuilles sont « Clients », "
        "« Anciens clients »."
    )
    assert row_counts(engine) == before


def test_rows_past_the_declared_dimension_are_read_not_dropped(engine, tmp_path):
    rows = [HEADER, *([f"C{n}", f"Client {n}"] for n in range(1, 6))]
    path = _declaring(_workbook(tmp_path / "clients.xlsx", {"Clients": rows}), "A1:B2")
    report = do_import(engine, "debtors", path)
    assert report.ok, report.lines()
    assert report.counts["debtors"].created == 5
    assert _names(engine) == ["C1", "C2", "C3", "C4", "C5"]


def test_a_sheet_claiming_every_cell_of_excel_costs_only_the_cells_it_holds(engine, tmp_path):
    """1 048 576 rows × 16 384 columns declared: read-only openpyxl padded every row to
    16 384 cells (8 000 rows: 12,5 s of CPU instead of 0,7 s)."""
    rows = [HEADER, *([f"C{n}", f"Client {n}"] for n in range(1, 4))]
    path = _declaring(_workbook(tmp_path / "clients.xlsx", {"Clients": rows}), "A1:XFD1048576")
    with open_table(path) as table:
        assert table.header == HEADER
        assert [(line, len(cells)) for line, cells in table.rows] == [(2, 2), (3, 2), (4, 2)]
    report = do_import(engine, "debtors", path)
    assert report.ok, report.lines()
    assert report.counts["debtors"].created == 3


@pytest.mark.parametrize("option", [["--feuille", "Anciens"], []])
def test_cli_reads_the_sheet_named_by_feuille(tmp_path, database_url, option):
    path = _workbook(
        tmp_path / "clients.xlsx",
        {"Clients": [HEADER, ["C1", "Martin"]], "Anciens": [HEADER, ["C2", "D"], ["C3", "L"]]},
    )
    result = _run(tmp_path, database_url, "debtors", str(path), *option)
    assert result.exit_code == 0, result.output
    assert _count(database_url, "debtors") == (2 if option else 1)


def test_the_sheet_is_saved_with_the_source_mapping_and_read_next_time(engine, tmp_path):
    path = _workbook(
        tmp_path / "clients.xlsx",
        {"Clients": [HEADER, ["C1", "Martin"]], "Anciens": [HEADER, ["C2", "Dubois"]]},
    )
    report = do_import(engine, "debtors", path, sheet="Anciens", mapping_name="ERP")
    assert report.ok, report.lines()
    with Session(engine) as session:
        saved = load_mapping(session, name="ERP", kind="debtors")
    assert saved == {"Code client": "account_code", "Raison sociale": "name", SHEET_KEY: "Anciens"}
    again = do_import(engine, "debtors", path, mapping_name="ERP", dry_run=True)
    assert again.notes[0] == "Fichier lu : classeur XLSX, feuille « Anciens »."
    explicit = do_import(engine, "debtors", path, explicit_mapping={SHEET_KEY: "Clients"})
    assert explicit.notes[0].startswith("Fichier lu : classeur XLSX, feuille « Clients »")
    assert _names(engine) == ["C1", "C2"]
    with Session(engine) as session:
        save_column_mapping(
            session,
            kind="debtors",
            name="ERP",
            choices=[("Code client", "account_code"), ("Raison sociale", "name")],
            actor_id=None,
            now=utcnow(),
        )
        session.commit()
        assert load_mapping(session, name="ERP", kind="debtors")[SHEET_KEY] == "Anciens"
