import pytest
from playwright.sync_api import expect

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.e2e


def test_agent_logs_in_and_sees_the_landing_page(live_server, page, make_user):
    agent = make_user("agent")
    page.goto(f"{live_server}/agent/")
    expect(page).to_have_url(f"{live_server}/connexion?next=%2Fagent%2F")
    page.get_by_label("Adresse e-mail").fill(agent.email)
    page.get_by_label("Mot de passe").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{live_server}/agent/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Poste de relance")
    expect(page.locator(".badge")).to_have_text("Chargé de relance")
    assert page.evaluate("typeof htmx") == "object"
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(f"{live_server}/connexion")


def test_admin_creates_a_user_through_htmx_without_reload(live_server, page, make_user):
    admin = make_user("admin")
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse e-mail").fill(admin.email)
    page.get_by_label("Mot de passe").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{live_server}/admin/")
    page.evaluate("window.__notReloaded = true")
    page.get_by_label("Nom complet").fill("Hugo Lefèvre")
    page.locator("#new-email").fill("pas-une-adresse")
    page.locator("#new-password").fill("court")
    page.get_by_role("button", name="Créer le compte").click()
    expect(page.locator(".field-error").first).to_contain_text("Adresse e-mail invalide.")
    page.locator("#new-email").fill("hugo@exemple.fr")
    page.locator("#new-password").fill("un-mot-de-passe-solide")
    page.get_by_role("button", name="Créer le compte").click()
    expect(page.locator("#users table")).to_contain_text("hugo@exemple.fr")
    assert page.evaluate("window.__notReloaded") is True
