"""The softphone in a real browser: a simulated call end to end, and a Twilio.Device built
from a token the app issues (no network to Twilio is needed, none is expected)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from callcenter import create_app
from callcenter.models import Call, Event
from callcenter.providers.telephony import TwilioTelephony
from tests.conftest import TEST_PASSWORD, make_settings
from tests.web.test_telephony_webhooks import held_debtor

pytestmark = pytest.mark.e2e


def _wait_until_true(page, expression: str, seconds: float = 15.0) -> None:
    """Poll an expression from the test. Playwright's ``wait_for_function`` polls with ``eval``
    inside the page, which the app's Content Security Policy forbids: it failed whenever the
    expression was not already true at its first try."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(f"Boolean({expression})"):
        assert time.monotonic() < deadline, f"toujours faux après {seconds} s : {expression}"
        page.wait_for_timeout(100)


@pytest.fixture
def telephony_provider() -> str:
    return "simulated"


@pytest.fixture
def app(tmp_path: Path, database_url: str, telephony_provider: str):
    settings = make_settings(tmp_path, database_url, telephony={"provider": telephony_provider})
    providers = {}
    if telephony_provider == "twilio":
        providers["telephony"] = TwilioTelephony(
            account_sid="AC" + "a" * 32,
            auth_token="jeton-twilio-factice",
            api_key_sid="SK" + "b" * 32,
            api_key_secret="secret-factice-" + "x" * 32,
            twiml_app_sid="AP" + "c" * 32,
        )
    app = create_app(settings, providers=providers)
    app.config["TESTING"] = True
    yield app
    app.extensions["callcenter"].engine.dispose()


def open_softphone(page, live_server: str, user, debtor_id: int) -> None:
    """Sign in and land on the softphone page of the held debtor."""
    target = f"/telephonie/?debtor_id={debtor_id}"
    page.goto(f"{live_server}{target}")
    page.get_by_label("Adresse e-mail").fill(user.email)
    page.get_by_label("Mot de passe").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{live_server}{target}")


def test_a_simulated_call_runs_end_to_end(app, live_server, page, make_user):
    agent = make_user("agent")
    engine = app.extensions["callcenter"].engine
    debtor_id, _contact_id = held_debtor(engine, agent.id)
    open_softphone(page, live_server, agent, debtor_id)
    page.evaluate(
        """window.__states = [];
        document.addEventListener('softphone:state', (e) => window.__states.push(e.detail));"""
    )
    phone = page.locator("#softphone")
    status = phone.locator("[data-role=status]")
    expect(status).to_have_text("Prêt à appeler.")

    phone.get_by_role("button", name="Appeler").click()
    expect(status).to_have_text("Sonnerie")
    expect(phone.locator("[data-role=agent-state]")).to_have_text("En appel")
    phone.get_by_role("button", name="Décroche").click()
    expect(status).to_have_text("Décroché (une personne)")
    phone.get_by_role("button", name="Clavier").click()
    phone.get_by_role("button", name="5", exact=True).click()
    expect(phone.locator("[data-role=digits]")).to_have_text("5")
    phone.get_by_role("button", name="Muet").click()
    expect(phone.get_by_role("button", name="Micro coupé")).to_have_attribute(
        "aria-pressed", "true"
    )
    phone.get_by_role("button", name="Raccrocher").click()
    expect(status).to_have_text(re.compile(r"^Terminé — durée \d+ s$"))
    expect(phone.locator("[data-role=agent-state]")).to_contain_text("Post-appel")

    states = page.evaluate("window.__states")
    call_id = states[-1]["callId"]
    assert [s["state"] for s in states] == ["ringing", "in_call", "ended"]
    with Session(engine) as session:
        call = session.get(Call, call_id)
        assert (call.provider_status, call.answered_by) == ("completed", "human")
        types = session.exec(select(Event.type).where(Event.debtor_id == debtor_id)).all()
    assert types.count("call.status") == 4

    page.get_by_role("link", name="Fiche de l'appel").click()
    record = page.locator("#call-record")
    expect(record).to_contain_text("Décroché par une personne")
    expect(record.locator("[data-role=call-status]")).to_have_text("Terminé")


@pytest.mark.parametrize("telephony_provider", ["twilio"])
def test_the_twilio_softphone_builds_a_device_from_the_apps_token(
    app, live_server, page, make_user
):
    agent = make_user("agent")
    debtor_id, _contact_id = held_debtor(app.extensions["callcenter"].engine, agent.id)
    tokens = []
    page.on("response", lambda r: tokens.append(r.status) if "/telephonie/jeton" in r.url else None)
    open_softphone(page, live_server, agent, debtor_id)
    _wait_until_true(page, "window.Softphone && window.Softphone.device !== null")
    assert page.evaluate("window.Softphone.device instanceof Twilio.Device") is True
    assert page.evaluate("window.Softphone.device.identity || null") in (None, f"agent-{agent.id}")
    assert tokens and set(tokens) == {200}
    # Registration cannot succeed (fake account, no network): the failure is shown in French.
    expect(page.locator("#softphone [data-role=error]")).to_contain_text(
        re.compile(r"^Erreur du softphone \(code \d+\) : "), timeout=20000
    )
    expect(page.locator("#softphone [data-role=status]")).to_have_text("Prêt à appeler.")
    assert page.locator("#softphone").get_by_role("button", name="Décroche").count() == 0
