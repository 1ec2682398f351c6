"""axe-core in Chromium on the pages people spend their day on: no serious or critical violation.

axe-core comes from npm (``static/vendor/axe.min.js``, copied by the setup's JS step) and is
evaluated in the page through the DevTools protocol, so the pages' CSP stays as served."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from callcenter.db import session_scope
from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.domain.queue import refresh_all, sync_ladder
from callcenter.models import utcnow
from tests.conftest import TEST_PASSWORD, make_settings, require_component
from tests.factories import make_call, make_contact, make_debtor, make_invoice

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
AXE_CANDIDATES = (ROOT / "static/vendor/axe.min.js", ROOT / "node_modules/axe-core/axe.min.js")
BLOCKING = {"serious", "critical"}
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


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


@pytest.fixture(scope="module")
def axe_source() -> str:
    path = next((p for p in AXE_CANDIDATES if p.exists()), None)
    require_component(path is not None, "axe-core absent : lancez « make setup » (npm)")
    return path.read_text(encoding="utf-8")


@pytest.fixture
def floor(app, settings):
    today = date.today()
    with session_scope(app.extensions["callcenter"].engine) as session:
        sync_default_dispositions(session)
        sync_ladder(session, settings=settings)
        debtor = make_debtor(session, name="Fromagerie Lenoir SAS")
        make_contact(
            session, debtor, full_name="Anne Paie", email="compta@x.example", is_billing=True
        )
        make_invoice(session, debtor, due_date=today - timedelta(days=17), amount_cents=480_000)
        make_call(session, debtor, at=utcnow() - timedelta(days=9))
        refresh_all(session, now=utcnow(), settings=settings)
        return debtor.id


def serious_violations(page, axe_source: str) -> list[str]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    result = page.evaluate("options => window.axe.run(document, options)", AXE_OPTIONS)
    return [
        f"{v['id']} ({v['impact']}) : {v['help']} — "
        + " | ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


def _sign_in(browser, live_server, user, landing):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse e-mail").fill(user.email)
    page.get_by_label("Mot de passe").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{live_server}{landing}")
    return context, page


def test_the_login_page_has_no_serious_violation(page, live_server, axe_source):
    page.goto(f"{live_server}/connexion")
    assert serious_violations(page, axe_source) == []


def test_the_agent_workspace_has_no_serious_violation(
    browser, live_server, make_user, floor, axe_source
):
    context, page = _sign_in(browser, live_server, make_user("agent"), "/agent/")
    try:
        assert serious_violations(page, axe_source) == [], "poste vide"
        page.get_by_role("button", name="Dossier suivant").click()
        expect(page.locator(".ws-title")).to_contain_text("Fromagerie Lenoir SAS")
        found = serious_violations(page, axe_source)
        assert found == [], "dossier ouvert : " + " ;; ".join(found)
        page.get_by_label("Pas de réponse").check()
        page.locator("#save-outcome").click()
        expect(page.locator("#saved")).to_contain_text("Issue enregistrée : Pas de réponse")
        found = serious_violations(page, axe_source)
        assert found == [], "issue enregistrée : " + " ;; ".join(found)
    finally:
        context.close()


@pytest.mark.parametrize(
    "path",
    [
        "/supervision/",
        "/supervision/cockpit/",
        "/supervision/cockpit/controles",
        "/supervision/cockpit/debiteurs/{debtor_id}",
        "/supervision/file/",
        "/supervision/balance-agee",
        "/supervision/cockpit/resultats",
        "/supervision/cockpit/recherche?q=Fromagerie",
        "/imports/",
        "/api/v1/",
    ],
)
def test_supervisor_pages_have_no_serious_violation(
    browser, live_server, make_user, floor, axe_source, path
):
    context, page = _sign_in(browser, live_server, make_user("supervisor"), "/supervision/")
    try:
        page.goto(live_server + path.format(debtor_id=floor))
        page.wait_for_load_state("networkidle")
        found = serious_violations(page, axe_source)
        assert found == [], path + " : " + " ;; ".join(found)
    finally:
        context.close()


def test_the_admin_page_has_no_serious_violation(browser, live_server, make_user, axe_source):
    context, page = _sign_in(browser, live_server, make_user("admin"), "/admin/")
    try:
        found = serious_violations(page, axe_source)
        assert found == [], " ;; ".join(found)
    finally:
        context.close()


def test_the_kept_rate_chart_reads_in_percent(browser, live_server, make_user, floor):
    context, page = _sign_in(browser, live_server, make_user("supervisor"), "/supervision/")
    try:
        page.goto(f"{live_server}/supervision/cockpit/resultats")
        page.wait_for_load_state("networkidle")
        scale = page.evaluate(
            """() => {
                const chart = Chart.getChart(document.querySelector('#kept-rate canvas'));
                const y = chart.scales.y;
                return [y.min, y.max, y.ticks.at(-1).label];
            }"""
        )
        assert scale == [0, 100, "100 %"]
    finally:
        context.close()


def test_the_period_filter_stays_compact(browser, live_server, make_user, floor):
    context, page = _sign_in(browser, live_server, make_user("supervisor"), "/supervision/")
    try:
        page.goto(f"{live_server}/supervision/cockpit/resultats")
        widths = page.evaluate(
            "() => ['du', 'au'].map(id => document.getElementById(id)"
            ".getBoundingClientRect().width)"
        )
        assert all(0 < width <= 200 for width in widths), widths  # 1366 px wide page
    finally:
        context.close()
