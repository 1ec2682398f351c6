"""An agent corrects the outcome they just saved: the form comes back filled, the recap waiting
is replaced, the correction shows in the saved card's history."""

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from callcenter.db import session_scope
from callcenter.models import Call, Event, OutboxEmail, utcnow
from tests.e2e import test_workspace_e2e
from tests.e2e.test_workspace_e2e import _sign_in

settings = test_workspace_e2e.settings  # calling window always open
two_debtors = test_workspace_e2e.two_debtors

pytestmark = pytest.mark.e2e


def test_agent_corrects_a_promise_amount_and_the_recap_is_replaced(
    app, two_debtors, live_server, browser, make_user
):
    engine = app.extensions["callcenter"].engine
    context, page = _sign_in(browser, live_server, make_user("agent"))
    try:
        page.get_by_role("button", name="Dossier suivant").click()
        expect(page.locator(".ws-title")).to_contain_text("Fromagerie Lenoir SAS")
        page.keyboard.press("1")
        page.locator("#promise_amount").fill("480,00")
        page.locator("#promise_date").fill((date.today() + timedelta(days=6)).isoformat())
        page.keyboard.press("Control+Enter")
        expect(page.locator("#saved")).to_contain_text("Issue enregistrée : Promesse de paiement")
        expect(page.locator("#saved")).to_contain_text("Promesse de 480,00")

        page.get_by_role("link", name="Corriger cette issue").click()
        expect(page.locator(".ws-title")).to_contain_text("Corriger l'issue de l'appel")
        expect(page.locator("#promise_amount")).to_have_value("480,00")
        page.locator("#promise_amount").fill("4 800,00")
        page.get_by_role("button", name="Enregistrer").click()

        expect(page.locator("#ws-message")).to_have_text("Issue corrigée.")
        expect(page.locator("#saved")).to_contain_text("Promesse de 4\u202f800,00")
        expect(page.locator("#saved-timeline")).to_contain_text("Issue de l'appel corrigée")
        with session_scope(engine) as session:
            emails = session.exec(select(OutboxEmail).order_by(OutboxEmail.id)).all()
            assert [e.status for e in emails] == ["cancelled", "pending"]
            assert "4\u202f800,00" in emails[1].body_text or "4 800,00" in emails[1].body_text
            event = session.exec(select(Event).where(Event.type == "call.corrected")).one()
            assert event.payload["before"]["promise_amount_cents"] == 48_000
            assert event.payload["after"]["promise_amount_cents"] == 480_000
    finally:
        context.close()


def test_a_correction_after_the_window_is_refused_in_french(
    app, two_debtors, live_server, browser, make_user
):
    engine = app.extensions["callcenter"].engine
    context, page = _sign_in(browser, live_server, make_user("agent"))
    try:
        page.get_by_role("button", name="Dossier suivant").click()
        expect(page.locator(".ws-title")).to_contain_text("Fromagerie Lenoir SAS")
        page.keyboard.press("1")
        page.locator("#promise_amount").fill("480,00")
        page.locator("#promise_date").fill((date.today() + timedelta(days=6)).isoformat())
        page.keyboard.press("Control+Enter")
        expect(page.locator("#saved")).to_be_visible()
        with session_scope(engine) as session:  # saved 20 minutes ago: the window has closed
            call = session.exec(select(Call)).one()
            call.wrap_up_ended_at = utcnow() - timedelta(minutes=20)
        page.get_by_role("link", name="Corriger cette issue").click()
        expect(page.locator("#ws-message")).to_contain_text(
            "Le délai de correction (15 minutes) est passé"
        )
    finally:
        context.close()
