from pathlib import Path

import pytest

from callcenter.config import DEFAULT_CONFIG_PATH, ConfigError, load_settings, parse_settings

# production refuses the demo's bank details: a company's own (valid) IBAN
PRODUCTION = {
    "app": {"environment": "production"},
    "company": {"iban": "FR1420041010050500013M02606"},
}


def test_committed_config_loads_with_embedded_defaults():
    settings = load_settings(DEFAULT_CONFIG_PATH, environ={})
    assert settings.telephony.provider == "simulated"
    assert settings.database_url.startswith("sqlite:////")
    assert settings.database_url.endswith("/var/callcenter.db")
    assert not settings.is_production


def test_every_default_key_is_written_in_config_toml():
    """config.toml documents every key: the file and the model list the same keys."""
    import tomllib

    from callcenter.config import Settings

    data = tomllib.loads(DEFAULT_CONFIG_PATH.read_text())
    for section, model in Settings.model_fields.items():
        assert section in data, f"section [{section}] absente de config.toml"
        assert set(data[section]) == set(model.annotation.model_fields), section


def test_unknown_key_is_named(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurll = "sqlite:///x.db"\n')
    with pytest.raises(ConfigError, match=r"clé inconnue « database\.urll »"):
        load_settings(config, environ={})


def test_unknown_section_is_named():
    with pytest.raises(ConfigError, match="clé inconnue « telephonie »"):
        parse_settings({"telephonie": {"provider": "twilio"}}, environ={})


def test_ill_typed_key_is_named():
    with pytest.raises(ConfigError, match=r"valeur invalide pour « web\.port »"):
        parse_settings({"web": {"port": "cinq mille"}}, environ={})


def test_out_of_range_and_unknown_choice_are_refused():
    with pytest.raises(ConfigError, match=r"« telephony\.provider »"):
        parse_settings({"telephony": {"provider": "skype"}}, environ={})
    with pytest.raises(ConfigError, match=r"« web\.port »"):
        parse_settings({"web": {"port": 70000}}, environ={})


def test_import_years_must_be_in_order():
    assert parse_settings({}, environ={}).imports.years == (1990, 2100)
    with pytest.raises(ConfigError, match=r"« imports\.latest_year »"):
        parse_settings({"imports": {"earliest_year": 2000, "latest_year": 1999}}, environ={})


def test_secrets_cannot_be_written_in_the_file():
    with pytest.raises(ConfigError, match="clé inconnue « secrets »"):
        parse_settings({"secrets": {"secret_key": "abc"}}, environ={})
    with pytest.raises(ConfigError, match=r"clé inconnue « mail\.smtp_password »"):
        parse_settings({"mail": {"smtp_password": "abc"}}, environ={})


def test_secrets_come_from_environment_and_are_not_printed():
    settings = parse_settings(
        {},
        environ={"CALLCENTER_SMTP_PASSWORD": "s3cret", "CALLCENTER_DATABASE_URL": "sqlite:////x"},
    )
    assert settings.secrets.smtp_password == "s3cret"
    assert settings.database_url == "sqlite:////x"
    assert "s3cret" not in repr(settings.secrets)


def test_callcenter_config_points_to_another_file(tmp_path: Path):
    config = tmp_path / "other.toml"
    config.write_text('[app]\nname = "Relances Dupont"\n')
    settings = load_settings(environ={"CALLCENTER_CONFIG": str(config)})
    assert settings.app.name == "Relances Dupont"
    assert settings.database_url == f"sqlite:///{tmp_path}/var/callcenter.db"


def test_missing_or_broken_file_is_explained(tmp_path: Path):
    with pytest.raises(ConfigError, match="introuvable"):
        load_settings(tmp_path / "absent.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[app\nname=")
    with pytest.raises(ConfigError, match="illisible"):
        load_settings(broken, environ={})


def test_production_requires_a_secret_key(tmp_path: Path):
    settings = parse_settings(PRODUCTION, base_dir=tmp_path, environ={})
    with pytest.raises(ConfigError, match="CALLCENTER_SECRET_KEY"):
        settings.session_secret_key()


def test_development_key_is_kept_in_the_data_folder(tmp_path: Path):
    settings = parse_settings({}, base_dir=tmp_path, environ={})
    first = settings.session_secret_key()
    assert len(first) >= 32
    assert parse_settings({}, base_dir=tmp_path, environ={}).session_secret_key() == first
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o077 == 0


def test_cookies_are_secure_behind_https():
    assert parse_settings(
        {"app": {"public_url": "https://relance.exemple.fr"}}, environ={}
    ).cookies_secure
    assert not parse_settings({}, environ={}).cookies_secure


@pytest.mark.parametrize(
    ("url", "workers", "expected"),
    [
        ("sqlite:///var/x.db", 0, {1}),
        ("postgresql+psycopg://u@localhost/db", 0, {2, 3, 4}),
        ("sqlite:///var/x.db", 3, {3}),
        ("postgresql+psycopg://u@localhost/db", 1, {1}),
    ],
)
def test_web_workers_follow_the_database_unless_set(tmp_path: Path, url, workers, expected):
    """0 chooses: one process on SQLite, 2 to 4 on PostgreSQL; any other number is kept."""
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[web]\nworkers = {workers}\n')
    assert load_settings(config, environ={}).web_workers in expected


def test_trusted_proxies_take_addresses_and_networks():
    settings = parse_settings(
        {"web": {"trusted_proxies": ["10.0.0.1", "172.16.0.0/12", "2001:db8::/32"]}}, environ={}
    )
    assert [str(n) for n in settings.web.trusted_proxy_networks()] == [
        "10.0.0.1/32",
        "172.16.0.0/12",
        "2001:db8::/32",
    ]
    assert parse_settings({}, environ={}).web.trusted_proxy_networks() == []


def test_a_bad_trusted_proxy_is_named():
    with pytest.raises(
        ConfigError,
        match=r"« web\.trusted_proxies » \(« proxy\.interne » n'est ni une adresse IP ni un réseau",
    ):
        parse_settings({"web": {"trusted_proxies": ["10.0.0.1", "proxy.interne"]}}, environ={})


@pytest.mark.parametrize(
    "key",
    [" ", " " * 40, "k" * 40, "abcd" * 10, "trop-courte-0123456789", " " + "a1b2c3d4e5f6g7h8" * 3],
)
def test_production_refuses_a_weak_secret_key(tmp_path: Path, key: str):
    settings = parse_settings(
        PRODUCTION,
        base_dir=tmp_path,
        environ={"CALLCENTER_SECRET_KEY": key},
    )
    with pytest.raises(ConfigError, match="CALLCENTER_SECRET_KEY est trop faible"):
        settings.session_secret_key()


def test_production_accepts_a_random_secret_key(tmp_path: Path):
    import secrets

    key = secrets.token_urlsafe(32)
    settings = parse_settings(
        PRODUCTION,
        base_dir=tmp_path,
        environ={"CALLCENTER_SECRET_KEY": key},
    )
    assert settings.session_secret_key() == key


def test_bank_details_are_checked_and_named_when_wrong():
    settings = parse_settings(
        {"company": {"iban": "fr76 3000 6000 0112 3456 7890 189", "bic": "agri fr pp xxx"}},
        environ={},
    )
    assert settings.company.iban == "FR7630006000011234567890189"
    assert settings.company.bic == "AGRIFRPPXXX"
    with pytest.raises(ConfigError, match=r"« company\.iban » \(IBAN invalide"):
        parse_settings({"company": {"iban": "FR76 3000 6000 0112 3456 7890 188"}}, environ={})
    with pytest.raises(ConfigError, match=r"« company\.bic » \(BIC invalide"):
        parse_settings({"company": {"bic": "AGRI-FR"}}, environ={})
    with pytest.raises(ConfigError, match=r"« company\.phone » \(numéro de téléphone invalide"):
        parse_settings({"company": {"phone": "04 65"}}, environ={})


def test_committed_bank_details_and_phone_are_valid():
    company = load_settings(DEFAULT_CONFIG_PATH, environ={}).company
    assert company.iban == "FR7630006000011234567890189" and company.bic == "AGRIFRPPXXX"
    assert company.phone == "+33465713803"
    assert parse_settings({}, environ={}).company == company, "défauts du code = config.toml"


def test_production_refuses_the_demo_iban():
    with pytest.raises(ConfigError, match=r"« company\.iban » \(IBAN de démonstration"):
        parse_settings({"app": {"environment": "production"}}, environ={})
