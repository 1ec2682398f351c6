"""``callcenter import …`` run as an operator would."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from callcenter.cli import main
from tests.conftest import shared_file
from tests.domain.imports_helpers import DEBTORS_CSV, write
from tests.domain.test_imports import SPOILED_SHEETS, spoiled_xlsx


def _run(tmp_path, database_url, *args):
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n[app]\ndata_dir = "{tmp_path}/var"\n')
    return CliRunner().invoke(
        main,
        ["import", *args],
        env={"CALLCENTER_CONFIG": str(config), "CALLCENTER_SECRET_KEY": "k" * 40},
    )


def _count(database_url, table):
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        value = connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one()
    engine.dispose()
    return value


def test_cli_dry_run_then_import_then_errors_exit_1(tmp_path, database_url):
    path = write(tmp_path, "clients.csv", DEBTORS_CSV)
    dry = _run(tmp_path, database_url, "debtors", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Simulation" in dry.output and "3 à créer" in dry.output
    assert _count(database_url, "debtors") == 0
    done = _run(tmp_path, database_url, "debtors", str(path), "--mapping", "ERP")
    assert done.exit_code == 0, done.output
    assert "Import enregistré." in done.output
    assert _count(database_url, "debtors") == 3
    assert _count(database_url, "import_mappings") == 1
    bad = write(
        tmp_path, "f.csv", "Code client;N° facture;Date facture;Montant TTC\nC001;F1;32/01/2025;1\n"
    )
    failed = _run(tmp_path, database_url, "invoices", str(bad))
    assert failed.exit_code == 1
    assert "Ligne 2, colonne « Date facture » : Date impossible « 32/01/2025 »" in failed.output
    assert "rien n'a été enregistré" in failed.output
    assert _count(database_url, "invoices") == 0


def test_cli_fec_with_payment_terms_and_explicit_map(tmp_path, database_url):
    result = _run(
        tmp_path,
        database_url,
        "fec",
        str(shared_file("fec/0000000001FEC20220831.txt")),
        "--payment-terms-days",
        "60",
    )
    assert result.exit_code == 0, result.output
    assert "Factures : 400 à créer" in result.output
    assert "60 jours pour un nouveau débiteur" in result.output
    mapped = write(tmp_path, "c.csv", "Code;Nom\nZ1;Zèbre\n")
    ok = _run(
        tmp_path,
        database_url,
        "debtors",
        str(mapped),
        "--map",
        "Code=account_code",
        "--map",
        "Nom=name",
    )
    assert ok.exit_code == 0, ok.output
    refused = _run(tmp_path, database_url, "debtors", str(mapped), "--map", "Code=couleur")
    assert refused.exit_code == 2
    assert "champ « couleur » inconnu" in refused.output


def test_cli_refuses_a_spoiled_xlsx_in_french_without_a_traceback(tmp_path, database_url):
    path = spoiled_xlsx(tmp_path / "clients.xlsx", SPOILED_SHEETS["entité XML inconnue"][0])
    result = _run(tmp_path, database_url, "debtors", str(path))
    assert result.exit_code == 1, result.output
    assert "Fichier Excel illisible : le contenu XML" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert _count(database_url, "debtors") == 0
