"""An agent works an account end to end in Chromium; a second agent never gets the same debtor."""

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from callcenter.db import session_scope
from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.domain.queue import refresh_all, sync_ladder
from callcenter.models import Call, OutboxEmail, User, utcnow
from tests.conftest import TEST_PASSWORD, make_settings
from tests.factories import make_contact, make_debtor, make_invoice

pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(
        tmp_path,
        database_url,
        queue={
            "calling_weekdays": [1, 2, 3, 4, 5, 6, 7],
            "calling_hours": ["00:00-23:59"],
            "public_holidays": False,
        },
    )


@pytest.fixture
def two_debtors(app, settings):
    today = date.today()
    with session_scope(app.extensions["callcenter"].engine) as session:
        sync_default_dispositions(session)
        sync_ladder(session, settings=settings)
        for name, amount in (("Fromagerie Lenoir SAS", 480_000), ("Garage Petit SARL", 75_000)):
            debtor = make_debtor(session, name=name)
            make_contact(session, debtor, full_name=f"Compta {name}", email="compta@x.example")
            make_invoice(session, debtor, due_date=today - timedelta(days=17), amount_cents=amount)
        refresh_all(session, now=utcnow(), settings=settings)


def _sign_in(browser, live_server, user):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse e-mail").fill(user.email)
    page.get_by_label("Mot de passe").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{live_server}/agent/")
    return context, page


def test_agent_calls_records_a_promise_and_the_other_agent_gets_another_debtor(
    app, live_server, browser, make_user, two_debtors
):
    engine = app.extensions["callcenter"].engine
    first_context, first = _sign_in(browser, live_server, make_user("agent"))
    second_context, second = _sign_in(browser, live_server, make_user("agent"))
    try:
        first.keyboard.press("n")
        expect(first.locator(".ws-title")).to_contain_text("Fromagerie Lenoir SAS")
        expect(first.locator("#target-amount")).to_have_text("4\u202f800,00\xa0€")
        expect(first.locator("#script")).to_contain_text("Première relance téléphonique")

        second.get_by_role("button", name="Dossier suivant").click()
        expect(second.locator(".ws-title")).to_contain_text("Garage Petit SARL")

        phone = first.locator("#softphone")
        first.keyboard.press("a")
        expect(phone.locator("[data-role=status]")).to_have_text("Sonnerie")
        phone.get_by_role("button", name="Décroche").click()
        expect(phone.locator("[data-role=status]")).to_have_text("Décroché (une personne)")
        first.keyboard.press("h")
        expect(phone.locator("[data-role=agent-state]")).to_contain_text("Post-appel")
        expect(first.locator("#call-id")).not_to_have_value("")

        first.keyboard.press("1")
        expect(first.locator("#promise_amount")).to_be_visible()
        first.locator("#promise_amount").fill("4 800,00")
        first.locator("#promise_date").fill((date.today() + timedelta(days=6)).isoformat())
        first.locator("#notes").fill("Virement groupé en fin de semaine")
        first.keyboard.press("Control+Enter")
        expect(first.locator("#saved")).to_contain_text("Issue enregistrée : Promesse de paiement")
        expect(first.locator("#saved-timeline")).to_contain_text("Promesse de paiement")
        expect(first.locator("#recap")).to_contain_text("Récapitulatif de notre appel")
        with session_scope(engine) as session:
            call = session.exec(select(Call)).one()
            agent = session.get(User, call.agent_id)
            recap = session.exec(select(OutboxEmail)).one()
            recap.attempts = 1  # the sender took it meanwhile: too late to cancel
        first.get_by_role("button", name="Annuler l'envoi").click()
        expect(first.locator("#recap [role=alert]")).to_contain_text(
            "déjà parti ou en cours d'envoi"
        )
        assert (call.disposition_code, call.provider_status) == ("promise", "completed")
        assert call.answered_at is not None and agent.agent_state == "available"

        second.get_by_role("button", name="Rendre à la file").click()
        second.get_by_role("button", name="Dossier suivant").click()
        expect(second.locator(".ws-title")).to_contain_text("Garage Petit SARL")
    finally:
        first_context.close()
        second_context.close()


def test_saving_the_outcome_of_a_call_still_open_hangs_it_up(
    app, two_debtors, live_server, browser, make_user
):
    """A voicemail is playing and the agent saves « Répondeur » without hanging up: the
    call ends with the save, so the next debtor starts with a free softphone."""
    engine = app.extensions["callcenter"].engine
    context, page = _sign_in(browser, live_server, make_user("agent"))
    try:
        page.get_by_role("button", name="Dossier suivant").click()
        expect(page.locator(".ws-title")).to_be_visible()
        phone = page.locator("#softphone")
        expect(page.locator("#script")).to_be_visible()
        phone.get_by_role("button", name="Appeler").click()
        expect(phone.locator("[data-role=status]")).to_have_text("Sonnerie")
        phone.get_by_role("button", name="Répondeur").click()
        expect(phone.locator("[data-role=status]")).to_contain_text("Décroché")
        page.locator("#notes").focus()
        page.locator("#notes").press("Escape")
        radio = page.locator('input[name="disposition"][value="voicemail"]')
        radio.check()
        page.keyboard.press("Control+Enter")
        expect(page.locator("#saved")).to_contain_text("Issue enregistrée : Répondeur")
        with session_scope(engine) as session:
            call = session.exec(select(Call)).one()
        assert (call.disposition_code, call.provider_status) == ("voicemail", "completed")
        expect(page.locator(".htmx-settling, .htmx-swapping")).to_have_count(0)
        page.locator("#saved #next-account").click()
        expect(page.locator("#script")).to_be_visible()
        expect(phone.locator("[data-role=status]")).to_have_text("Prêt à appeler.")
        expect(phone.get_by_role("button", name="Appeler")).to_be_enabled()
    finally:
        context.close()
