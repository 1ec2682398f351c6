"""A credit manager associates the columns of an unknown export in the browser (htmx)."""

import pytest
from playwright.sync_api import expect

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.e2e

ERP_DEBTORS = "Client n°;Société cliente;Remarque\nC001;Boulangerie Martin;fidèle\n"


def test_columns_of_an_unknown_file_are_associated_then_checked_again(
    live_server, page, make_user, tmp_path
):
    boss = make_user("supervisor")
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse e-mail").fill(boss.email)
    page.get_by_label("Mot de passe").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.goto(f"{live_server}/imports/")
    page.evaluate("window.__notReloaded = true")
    export = tmp_path / "erp.csv"
    export.write_text(ERP_DEBTORS, encoding="utf-8")
    page.get_by_label("Type de fichier").select_option("debtors")
    page.get_by_label("Fichier (CSV, XLSX ou FEC)").set_input_files(export)
    page.get_by_role("button", name="Vérifier le fichier").click()
    expect(page.locator("#import-errors")).to_contain_text("Colonne inconnue « Client n° »")
    columns = page.locator("#import-columns")
    columns.get_by_label("Client n°").select_option(label="Code client *")
    columns.get_by_label("Société cliente").select_option(label="Raison sociale *")
    columns.get_by_role("button", name="Enregistrer et vérifier à nouveau").click()
    expect(columns.locator("#import-columns-name-error")).to_contain_text("Donnez un nom")
    columns.get_by_label("Nom de la source").fill("Export ERP")
    columns.get_by_role("button", name="Enregistrer et vérifier à nouveau").click()
    expect(page.locator("#import-notice")).to_contain_text("Correspondance « Export ERP »")
    expect(page.locator("#import-counts")).to_contain_text("Débiteurs")
    expect(page.get_by_role("button", name="Appliquer l'import")).to_be_visible()
    # the swapped-in form must be wired by htmx before its select reacts (a real user is slower)
    page.wait_for_function(
        "() => (document.getElementById('import-kind')['htmx-internal-data'] || {}).initHash"
    )
    page.get_by_label("Type de fichier").select_option("invoices")
    expect(page.locator("#import-mapping-hint")).to_contain_text("Aucune source enregistrée")
    page.get_by_label("Type de fichier").select_option("debtors")
    expect(page.locator("#import-mapping-sources option")).to_have_attribute("value", "Export ERP")
    expect(page.locator("#upload-progress")).to_be_hidden()
    assert page.evaluate("window.__notReloaded") is True
