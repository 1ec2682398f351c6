"""Ids in URLs, route by route from the URL map: past what the id columns hold, a 404."""

import re

import pytest
from twilio.request_validator import RequestValidator

from callcenter.web import MAX_ID
from callcenter.web.telephony import telephony
from tests.web.test_access import ALLOWED_ROLES, PUBLIC_ENDPOINTS, SIGNED_BLUEPRINTS

INTEGER_ARGUMENT = re.compile(r"<int:(\w+)>")
ANY_ARGUMENT = re.compile(r"<(?:\w+:)?\w+>")


def _id_routes(app, identifier: str, *, every_route: bool = False):
    """Every route taking an ``<int:…>`` id (or every route), its ids set to ``identifier``,
    its other arguments to ``1``, with its methods and blueprint."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS or not (
            every_route or INTEGER_ARGUMENT.search(rule.rule)
        ):
            continue
        url = ANY_ARGUMENT.sub("1", INTEGER_ARGUMENT.sub(identifier, rule.rule))
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        yield rule.endpoint.split(".")[0], url, methods


def test_the_app_has_id_routes(app):
    assert len(list(_id_routes(app, "1"))) > 20


@pytest.mark.parametrize("identifier", ["99999999999999999999", str(2**63), str(MAX_ID + 1)])
def test_every_id_route_answers_404_past_the_largest_id(app, client, login, identifier):
    _user, token = login("admin")
    for _blueprint, url, methods in _id_routes(app, identifier):
        for method in methods:
            response = client.open(url, method=method, headers={"X-CSRFToken": token})
            assert response.status_code == 404, (method, url, response.status_code)
            assert "Page introuvable" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
def test_the_largest_id_reaches_every_view_without_an_error(app, client, login, role):
    """The bound is the id columns' own (INTEGER): the largest id is looked up like any other."""
    _user, token = login(role)
    checked = 0
    for blueprint, url, methods in _id_routes(app, str(MAX_ID)):
        if blueprint in SIGNED_BLUEPRINTS or role not in ALLOWED_ROLES[blueprint]:
            continue
        for method in methods:
            response = client.open(url, method=method, headers={"X-CSRFToken": token})
            assert response.status_code < 500, (method, url, response.status_code)
            checked += 1
    assert checked > 0


def test_the_largest_id_reaches_every_webhook_without_an_error(app, client):
    with app.app_context():
        validator = RequestValidator(telephony().webhook_auth_token())
    base = app.extensions["callcenter"].settings.app.public_url.rstrip("/")
    params = {"CallSid": "CA1", "CallStatus": "completed", "RecordingSid": "RE1"}
    checked = 0
    for blueprint, url, methods in _id_routes(app, str(MAX_ID)):
        if blueprint not in SIGNED_BLUEPRINTS:
            continue
        for method in methods:
            signature = validator.compute_signature(base + url, params)
            response = client.open(
                url, method=method, data=params, headers={"X-Twilio-Signature": signature}
            )
            assert response.status_code < 500, (method, url, response.status_code)
            assert response.status_code != 403, (method, url)
            checked += 1
    assert checked > 0


NUMBER_FIELDS = ("debtor_id", "contact_id", "call_id", "agent_id", "user_id", "email_id", "page")


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
@pytest.mark.parametrize("number", ["99999999999999999999", "²"])
def test_no_route_fails_on_a_number_out_of_range_in_its_query_or_form(
    app, client, login, role, number
):
    """Ids and page numbers read from a query string or a form are bounded like the URL's."""
    _user, token = login(role)
    fields = dict.fromkeys(NUMBER_FIELDS, number)
    checked = 0
    for blueprint, url, methods in _id_routes(app, "1", every_route=True):
        if blueprint in SIGNED_BLUEPRINTS or role not in ALLOWED_ROLES.get(blueprint, {role}):
            continue
        for method in methods:
            if method == "GET":
                response = client.get(url, query_string=fields)
            else:
                response = client.open(
                    url, method=method, data=fields, headers={"X-CSRFToken": token}
                )
            assert response.status_code < 500, (method, url, response.status_code)
            checked += 1
    assert checked > 0
