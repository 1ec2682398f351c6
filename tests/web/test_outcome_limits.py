"""The outcome form's inputs carry the limits the server enforces (maxlength, min, max)."""

from __future__ import annotations

import re

from callcenter.domain.outcome import outcome_limits
from tests.web.test_workspace import _debtor_id, _next, portfolio, settings  # noqa: F401


def _attributes(html: str, selector: str) -> dict[str, str]:
    tag = re.search(rf"<(?:input|textarea)[^>]*{selector}[^>]*>", html)
    assert tag, selector
    return dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag.group(0)))


def test_every_outcome_input_carries_its_limit(app, client, login, portfolio):  # noqa: F811
    _agent, token = login("agent")
    html = _next(client, token).get_data(as_text=True)
    state = app.extensions["callcenter"]
    limits = outcome_limits(now=state.clock.now(), settings=state.settings)
    expected = {
        'id="notes"': {"maxlength": str(limits.notes)},
        'id="dispute_description"': {"maxlength": str(limits.dispute_description)},
        'id="contact_name"': {"maxlength": str(limits.contact_name)},
        'id="contact_phone"': {"maxlength": str(limits.contact_phone)},
        'id="contact_email"': {"maxlength": str(limits.contact_email)},
        'id="promise_amount"': {"maxlength": str(limits.amount_text)},
        'id="plan_total"': {"maxlength": str(limits.amount_text)},
        'name="plan_amounts"': {"maxlength": str(limits.amount_text)},
        'id="promise_date"': {"min": limits.promise_date_min, "max": limits.promise_date_max},
        'name="plan_dates"': {"min": limits.plan_date_min, "max": limits.plan_date_max},
        'id="callback_at"': {"min": limits.callback_min[:13], "max": limits.callback_max[:13]},
    }
    for selector, bounds in expected.items():
        attributes = _attributes(html, selector)
        for name, value in bounds.items():
            assert attributes.get(name, "").startswith(value), (selector, name, attributes)


def test_notes_past_their_limit_come_back_in_french(client, login, portfolio):  # noqa: F811
    _agent, token = login("agent")
    debtor_id = _debtor_id(_next(client, token).get_data(as_text=True))
    response = client.post(
        f"/agent/dossier/{debtor_id}/issue",
        data={"disposition": "no_answer", "notes": "x" * 4001},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 422
    assert "Les notes ne doivent pas dépasser 4000 caractères." in response.get_data(as_text=True)
