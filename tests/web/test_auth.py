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
