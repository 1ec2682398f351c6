import pytest

from tests.conftest import TEST_PASSWORD, csrf_from


def _login_form(client):
    return csrf_from(client.get("/connexion").get_data(as_text=True))


def test_login_page_is_french(client):
    response = client.get("/connexion")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="fr">' in html
    assert "Se connecter" in html
    assert "htmx.min.js" in html


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/agent/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=")


@pytest.mark.parametrize(
    ("role", "landing", "heading"),
    [
        ("agent", "/agent/", "Poste de relance"),
        ("supervisor", "/supervision/", "Portefeuille au"),
        ("admin", "/admin/", "Utilisateurs"),
    ],
)
def test_each_role_lands_on_its_own_page(client, make_user, role, landing, heading):
    user = make_user(role)
    response = client.post(
        "/connexion",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": _login_form(client)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == landing
    page = client.get(landing)
    assert page.status_code == 200
    assert heading in page.get_data(as_text=True)
    assert client.get("/").headers["Location"] == landing


def test_wrong_password_is_refused_in_french(client, make_user):
    user = make_user("agent")
    response = client.post(
        "/connexion",
        data={"email": user.email, "password": "mauvais", "csrf_token": _login_form(client)},
    )
    assert response.status_code == 401
    assert "Adresse e-mail ou mot de passe incorrect." in response.get_data(as_text=True)
    assert client.get("/agent/").status_code == 302


def test_login_is_throttled_after_repeated_failures(client, make_user):
    user = make_user("agent")
    for _ in range(5):
        client.post(
            "/connexion",
            data={"email": user.email, "password": "mauvais", "csrf_token": _login_form(client)},
        )
    response = client.post(
        "/connexion",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": _login_form(client)},
    )
    assert response.status_code == 401
    assert "Trop de tentatives de connexion" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client, make_user):
    user = make_user("agent")
    response = client.post("/connexion", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert "jeton de sécurité" in response.get_data(as_text=True)


def test_next_parameter_never_leaves_the_site(client, make_user):
    user = make_user("agent")
    token = _login_form(client)
    response = client.post(
        "/connexion?next=//evil.example/phish",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/agent/"


def test_next_parameter_returns_to_the_page_asked_for(client, make_user):
    user = make_user("supervisor")
    response = client.post(
        "/connexion?next=/agent/",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": _login_form(client)},
    )
    assert response.headers["Location"] == "/agent/"


def test_logout_needs_post_and_csrf(client, login):
    _user, token = login("agent")
    assert client.get("/deconnexion").status_code == 405
    assert client.post("/deconnexion").status_code == 400
    response = client.post("/deconnexion", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/agent/").status_code == 302


def test_htmx_request_carries_csrf_in_header(client, login):
    _user, token = login("admin")
    data = {
        "full_name": "Nina Roux",
        "email": "nina@exemple.fr",
        "role": "agent",
        "password": "un-long-mot-de-passe",
    }
    refused = client.post("/admin/utilisateurs", data=data, headers={"HX-Request": "true"})
    assert refused.status_code == 400
    accepted = client.post(
        "/admin/utilisateurs", data=data, headers={"HX-Request": "true", "X-CSRFToken": token}
    )
    assert accepted.status_code == 201
    html = accepted.get_data(as_text=True)
    assert html.startswith('<section class="card" id="users">')
    assert "nina@exemple.fr" in html
    assert "HX-Request" in accepted.headers["Vary"]


def test_admin_form_errors_come_back_next_to_the_field(client, login):
    _user, token = login("admin")
    response = client.post(
        "/admin/utilisateurs",
        data={"full_name": "", "email": "faux", "role": "agent", "password": "court"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<span class="field-error">Adresse e-mail invalide.</span>' in html
    assert "Le nom est obligatoire." in html
    assert "au moins 10 caractères" in html


def test_session_cookie_flags(client, make_user):
    user = make_user("agent")
    response = client.post(
        "/connexion",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": _login_form(client)},
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_https_deployment_marks_cookies_secure(tmp_path, database_url):
    from callcenter import create_app
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path, database_url, app={"public_url": "https://relance.exemple.fr"}
    )
    app = create_app(settings)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    response = app.test_client().get("/connexion")
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    app.extensions["callcenter"].engine.dispose()


def test_security_headers(client):
    response = client.get("/connexion")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def _sign_in(client, email: str, password: str = TEST_PASSWORD, **kwargs):
    return client.post(
        "/connexion",
        data={"email": email, "password": password, "csrf_token": _login_form(client)},
        **kwargs,
    )


def test_a_session_cookie_copied_before_logout_is_refused_after_it(app, client, login):
    _user, token = login("agent")
    copy = app.test_client()
    copy.set_cookie("callcenter_session", client.get_cookie("callcenter_session").value)
    assert copy.get("/agent/").status_code == 200
    assert client.post("/deconnexion", data={"csrf_token": token}).status_code == 302
    refused = copy.get("/agent/")
    assert refused.status_code == 302
    assert refused.headers["Location"].startswith("/connexion?next=")


def test_signing_in_again_after_logout_gives_a_working_session(client, login):
    user, token = login("agent")
    client.post("/deconnexion", data={"csrf_token": token})
    assert _sign_in(client, user.email).status_code == 302
    assert client.get("/agent/").status_code == 200


def test_a_role_change_signs_the_user_out_of_open_sessions(app, client, login, make_user):
    _admin, token = login("admin")
    agent = make_user("agent")
    agent_browser = app.test_client()
    assert _sign_in(agent_browser, agent.email).status_code == 302
    assert agent_browser.get("/agent/").status_code == 200
    changed = client.post(
        f"/admin/utilisateurs/{agent.id}",
        data={"role": "supervisor", "active": "on"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert changed.status_code == 200
    assert agent_browser.get("/supervision/").status_code == 302
    assert _sign_in(agent_browser, agent.email).headers["Location"] == "/supervision/"


@pytest.fixture
def proxied_app(tmp_path, database_url):
    """An app behind a reverse proxy at 10.0.0.0/8, locking after one failure per address."""
    from callcenter import create_app
    from callcenter.db import session_scope
    from callcenter.domain.accounts import create_user
    from callcenter.models import utcnow
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path,
        database_url,
        web={"trusted_proxies": ["10.0.0.0/8"]},
        security={"login_max_failures": 1},
    )
    app = create_app(settings)
    with session_scope(app.extensions["callcenter"].engine) as session:
        for email in ("victime@exemple.fr", "collegue@exemple.fr"):
            create_user(
                session,
                email=email,
                full_name="Agent Test",
                role="agent",
                password=TEST_PASSWORD,
                now=utcnow(),
            )
    yield app
    app.extensions["callcenter"].engine.dispose()


def test_behind_a_trusted_proxy_a_guessing_client_locks_out_only_itself(proxied_app):
    from sqlmodel import Session, select

    from callcenter.models import LoginAttempt

    proxy = proxied_app.test_client()
    proxy.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    attacker = {"X-Forwarded-For": "1.2.3.4, 203.0.113.9"}
    for index in range(4):
        guessed = _sign_in(proxy, f"x{index}@exemple.fr", "mauvais", headers=attacker)
        assert "incorrect" in guessed.get_data(as_text=True)
    throttled = _sign_in(proxy, "victime@exemple.fr", headers=attacker)
    assert "Trop de tentatives" in throttled.get_data(as_text=True)
    colleague = _sign_in(proxy, "collegue@exemple.fr", headers={"X-Forwarded-For": "198.51.100.7"})
    assert colleague.status_code == 302
    with Session(proxied_app.extensions["callcenter"].engine) as session:
        seen = set(session.exec(select(LoginAttempt.remote_addr)).all())
    assert seen == {"203.0.113.9", "198.51.100.7"}
