"""Role guard, route by route: every route of the app is listed from the URL map."""

import pytest

from callcenter.web import ROLE_REFUSED

PUBLIC_ENDPOINTS = {
    "static",
    "auth.login",
    "auth.index",
    "auth.logout",
    "api.reference",
    "api.openapi",
}
# The creditor systems' API: a key opens it, never a session (tests/web/test_api.py).
KEY_BLUEPRINTS = {"api"}
# Provider webhooks carry no session: a valid X-Twilio-Signature is their only key.
SIGNED_BLUEPRINTS = {"twilio_webhooks", "speech_stream"}
ALLOWED_ROLES = {
    "agent": {"agent", "supervisor"},
    "supervisor": {"supervisor", "admin"},
    "queue": {"supervisor", "admin"},
    "process": {"supervisor", "admin"},
    "imports": {"supervisor", "admin"},
    "admin": {"admin"},
    "devmail": {"agent", "supervisor", "admin"},
    "telephony": {"agent", "supervisor"},
    "recordings": {"supervisor", "admin"},
    "cockpit": {"supervisor", "admin"},
    "speech": {"agent", "supervisor"},
}


def _guarded_routes(app):
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0]
        if rule.endpoint in PUBLIC_ENDPOINTS or blueprint in SIGNED_BLUEPRINTS | KEY_BLUEPRINTS:
            continue
        assert blueprint in ALLOWED_ROLES, f"route sans règle d'accès : {rule.rule}"
        url = rule.rule
        for argument in rule.arguments:
            url = url.replace(f"<{argument}>", "1").replace(f"<int:{argument}>", "1")
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        yield url, methods, ALLOWED_ROLES[blueprint]


def test_every_blueprint_has_an_access_rule(app):
    assert list(_guarded_routes(app))


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
def test_each_role_is_refused_every_route_it_has_no_right_to(app, client, login, role):
    _user, token = login(role)
    checked = 0
    for url, methods, allowed in _guarded_routes(app):
        for method in methods:
            response = client.open(url, method=method, headers={"X-CSRFToken": token})
            if role in allowed:
                assert ROLE_REFUSED.encode() not in response.get_data(), (method, url)
            else:
                assert response.status_code == 403, (method, url, response.status_code)
                assert "Accès refusé" in response.get_data(as_text=True)
                checked += 1
    if role != "admin":
        assert checked > 0


def test_anonymous_is_sent_to_login_on_every_guarded_route(app, client):
    for url, methods, _allowed in _guarded_routes(app):
        for method in methods:
            if method == "GET":
                response = client.open(url, method=method)
                assert response.status_code == 302, url
                assert "/connexion" in response.headers["Location"]


def _signed_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in SIGNED_BLUEPRINTS:
            url = rule.rule
            for argument in rule.arguments:
                url = url.replace(f"<int:{argument}>", "1").replace(f"<{argument}>", "1")
            yield url, sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


@pytest.mark.parametrize("role", [None, "agent", "supervisor", "admin"])
def test_every_webhook_refuses_a_request_without_a_valid_signature(app, client, login, role):
    if role:
        login(role)
    routes = list(_signed_routes(app))
    assert routes
    for url, methods in routes:
        for method in methods:
            for headers in ({}, {"X-Twilio-Signature": "c2lnbmF0dXJlIGZhdXNzZQ=="}):
                response = client.open(url, method=method, data={"CallSid": "CA1"}, headers=headers)
                assert response.status_code == 403, (method, url, headers)
