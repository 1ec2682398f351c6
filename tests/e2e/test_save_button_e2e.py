"""At 1366×768 the outcome form's save button stays in sight, however long the form grows
(a payment plan with its instalments, a dispute with its invoices)."""

import pytest
from playwright.sync_api import expect

from tests.e2e import test_workspace_e2e
from tests.e2e.test_workspace_e2e import _sign_in

pytestmark = pytest.mark.e2e
settings = test_workspace_e2e.settings
two_debtors = test_workspace_e2e.two_debtors

IN_SIGHT = """() => {
    const button = document.getElementById('save-outcome');
    const box = button.getBoundingClientRect();
    const x = box.left + box.width / 2, y = box.top + box.height / 2;
    const inside = box.top >= 0 && box.bottom <= window.innerHeight;
    return inside && button.contains(document.elementFromPoint(x, y));
}"""


def test_the_save_button_is_in_sight_at_1366_by_768(
    app, two_debtors, live_server, browser, make_user
):
    context, page = _sign_in(browser, live_server, make_user("agent"))
    try:
        assert page.viewport_size == {"width": 1366, "height": 768}
        page.get_by_role("button", name="Dossier suivant").click()
        expect(page.locator(".ws-title")).to_contain_text("Fromagerie Lenoir SAS")
        for label in ("Échéancier accepté", "Litige", "Promesse de paiement"):
            page.get_by_label(label).check()
            page.locator("#notes").fill("x\n" * 30)  # a long note: the form grows
            page.locator("#notes").blur()
            assert page.evaluate(IN_SIGHT), label
    finally:
        context.close()
