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


def test_the_wall_screen_fills_a_1920_tv_in_large_type_and_follows_live(
    live_server, browser, make_user, callable_debtor
):
    """Read from 5 m: figures at least 72 px, every other text at least 22 px, no navigation,
    the whole width, nothing to scroll; the same live updates as the supervisor's page."""
    agent_context, agent = _sign_in(browser, live_server, make_user("agent"), "/agent/")
    boss_context, _boss = _sign_in(browser, live_server, make_user("supervisor"), "/supervision/")
    tv = boss_context.new_page()
    tv.set_viewport_size({"width": 1920, "height": 1080})
    try:
        tv.goto(f"{live_server}/supervision/cockpit/mur")
        expect(tv.locator("#wb-promises")).to_have_text("0")
        assert tv.locator("nav, header.topbar").count() == 0
        sizes = tv.evaluate(
            """() => ({
              figures: [...document.querySelectorAll('.kpi-value')].map(
                e => parseFloat(getComputedStyle(e).fontSize)),
              texts: [...document.querySelectorAll(
                '.kpi-label, .kpi-detail, #wb-agents td, #wb-depth td, h2')].map(
                e => parseFloat(getComputedStyle(e).fontSize)),
              board: document.getElementById('wallboard').getBoundingClientRect().width,
              scrollX: document.documentElement.scrollWidth > window.innerWidth,
              scrollY: document.documentElement.scrollHeight > window.innerHeight,
            })"""
        )
        assert min(sizes["figures"]) >= 72, sizes
        assert min(sizes["texts"]) >= 22, sizes
        assert sizes["board"] >= 1850, sizes
        assert not sizes["scrollX"] and not sizes["scrollY"], sizes

        agent.keyboard.press("n")
        expect(agent.locator(".ws-title")).to_contain_text("Menuiserie Morel SARL")
        agent.keyboard.press("1")
        agent.locator("#promise_amount").fill("3 600,00")
        agent.locator("#promise_date").fill((date.today() + timedelta(days=4)).isoformat())
        agent.keyboard.press("Control+Enter")
        expect(agent.locator("#saved")).to_contain_text("Promesse de paiement")
        expect(tv.locator("#wb-promises")).to_have_text(
            "1", timeout=WALLBOARD_DEADLINE_SECONDS * 1000
        )
        assert tv.locator("nav, header.topbar").count() == 0  # the poll kept the wall layout
    finally:
        agent_context.close()
        boss_context.close()
