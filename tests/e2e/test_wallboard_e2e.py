"""A supervisor watches the wallboard while an agent records a promise in another browser."""

import time
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from callcenter.db import session_scope
from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.domain.queue import refresh_all, sync_ladder
from callcenter.models import utcnow
from tests.conftest import TEST_PASSWORD, make_settings
from tests.factories import make_contact, make_debtor, make_invoice

pytestmark = pytest.mark.e2e

WALLBOARD_DEADLINE_SECONDS = 5


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
def callable_debtor(app, settings):
    with session_scope(app.extensions["callcenter"].engine) as session:
        sync_default_dispositions(session)
        sync_ladder(session, settings=settings)
        debtor = make_debtor(session, name="Menuiserie Morel SARL")
        make_contact(session, debtor, email="compta@morel.example")
        make_invoice(
            session, debtor, due_date=date.today() - timedelta(days=17), amount_cents=360_000
        )
        refresh_all(session, now=utcnow(), settings=settings)


def _sign_in(browser, live_server, user, landing):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse e-mail").fill(user.email)
    page.get_by_label("Mot de passe").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{live_server}{landing}")
    return context, page


def test_the_wallboard_shows_a_new_promise_within_five_seconds(
    live_server, browser, make_user, callable_debtor
):
    agent_context, agent = _sign_in(browser, live_server, make_user("agent"), "/agent/")
    boss_context, boss = _sign_in(browser, live_server, make_user("supervisor"), "/supervision/")
    try:
        boss.goto(f"{live_server}/supervision/cockpit/")
        expect(boss.locator("#wb-promises")).to_have_text("0")

        agent.keyboard.press("n")
        expect(agent.locator(".ws-title")).to_contain_text("Menuiserie Morel SARL")
        agent.keyboard.press("1")
        agent.locator("#promise_amount").fill("3 600,00")
        agent.locator("#promise_date").fill((date.today() + timedelta(days=4)).isoformat())
        agent.keyboard.press("Control+Enter")
        expect(agent.locator("#saved")).to_contain_text("Promesse de paiement")
        saved_at = time.monotonic()

        expect(boss.locator("#wb-promises")).to_have_text(
            "1", timeout=WALLBOARD_DEADLINE_SECONDS * 1000
        )
        assert time.monotonic() - saved_at <= WALLBOARD_DEADLINE_SECONDS
        expect(boss.locator("#wb-promised")).to_have_text("3\u202f600,00\xa0€")
        expect(boss.locator("#wb-calls")).to_have_text("1")
    finally:
        agent_context.close()
        boss_context.close()
