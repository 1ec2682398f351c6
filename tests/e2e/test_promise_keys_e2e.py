"""A promise takes at most 8 keystrokes after hanging up: the amount is the target amount,
a key picks a quick date, Ctrl+Entrée saves (issue #22 counted 21)."""

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from callcenter.db import session_scope
from callcenter.models import Promise
from tests.e2e import test_workspace_e2e
from tests.e2e.test_workspace_e2e import _sign_in

pytestmark = pytest.mark.e2e
settings = test_workspace_e2e.settings  # calling window always open
two_debtors = test_workspace_e2e.two_debtors
MAX_KEYSTROKES = 8


def _next_friday(today: date) -> date:
    return today + timedelta(days=(4 - today.weekday()) % 7 or 7)


def test_a_promise_for_the_target_amount_next_friday_in_a_few_keystrokes(
    app, two_debtors, live_server, browser, make_user
):
    engine = app.extensions["callcenter"].engine
    context, page = _sign_in(browser, live_server, make_user("agent"))
    try:
        page.get_by_role("button", name="Dossier suivant").click()
        expect(page.locator(".ws-title")).to_contain_text("Fromagerie Lenoir SAS")
        phone = page.locator("#softphone")
        # the softphone must be ready before its key (under load it takes a moment)
        expect(phone.locator("[data-role=status]")).to_have_text("Prêt à appeler.")
        expect(page.locator("#softphone[data-ready='1']")).to_have_count(1)
        page.keyboard.press("a")
        expect(phone.locator("[data-role=status]")).to_have_text("Sonnerie")
        # one state on screen: the toolbar's badge follows the softphone's, live
        expect(page.locator("#agent-state")).to_have_text("En appel")
        phone.get_by_role("button", name="Décroche").click()
        expect(phone.locator("[data-role=status]")).to_have_text("Décroché (une personne)")
        page.keyboard.press("h")
        expect(phone.locator("[data-role=agent-state]")).to_contain_text("Post-appel")
        expect(page.locator("#agent-state")).to_contain_text("Post-appel")

        keys = ["1", "v", "Control+Enter"]  # promise, next Friday, save
        strokes = sum(len(key.split("+")) for key in keys)  # Ctrl+Entrée counts as two
        for key in keys:
            page.keyboard.press(key)
        assert strokes <= MAX_KEYSTROKES

        expect(page.locator("#saved")).to_contain_text("Issue enregistrée : Promesse de paiement")
        friday = _next_friday(date.today())
        expect(page.locator("#saved")).to_contain_text(
            f"Promesse de 4\u202f800,00\xa0€ pour le {friday:%d/%m/%Y}"
        )
        with session_scope(engine) as session:
            promise = session.exec(select(Promise)).one()
            assert (promise.amount_cents, promise.promised_date) == (480_000, friday)
    finally:
        context.close()


def test_quick_dates_are_offered_by_key_and_the_amount_starts_at_the_target(
    two_debtors, live_server, browser, make_user
):
    context, page = _sign_in(browser, live_server, make_user("agent"))
    try:
        page.get_by_role("button", name="Dossier suivant").click()
        expect(page.locator(".ws-title")).to_contain_text("Fromagerie Lenoir SAS")
        page.keyboard.press("1")
        expect(page.locator("#promise_amount")).to_have_value("4\u202f800,00")
        page.keyboard.press("s")
        week = date.today() + timedelta(days=7)
        expect(page.locator("#promise_date")).to_have_value(week.isoformat())
        page.keyboard.press("v")
        expect(page.locator("#promise_date")).to_have_value(_next_friday(date.today()).isoformat())
        page.keyboard.press("f")
        month_end = page.locator("#quick-date-f").get_attribute("data-quick-date")
        assert (
            date.fromisoformat(month_end).month
            != (date.fromisoformat(month_end) + timedelta(days=1)).month
        )
        expect(page.locator("#promise_date")).to_have_value(month_end)
        expect(page.get_by_role("group", name="Dates rapides")).to_contain_text("Fin du mois")
    finally:
        context.close()
