"""Shared fixtures: settings, databases (SQLite, and PostgreSQL when configured), app, client.

Every test runs on SQLite. When ``CALLCENTER_TEST_DATABASE_URL`` points at a
PostgreSQL server, database fixtures run a second time on it. Under ``CI=true`` a
missing PostgreSQL is a failure, never a silent skip.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from sqlmodel import Session, SQLModel

from callcenter.config import Settings, parse_settings
from callcenter.db import create_db_engine
from callcenter.migrate import upgrade
from callcenter.models import utcnow

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("CALLCENTER_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
TEST_PASSWORD = "mot-de-passe-test"
# Every test runs at this instant (a Monday, 10:00 in Paris), whatever the machine's date:
# the clock moves on from it in real time, but no test depends on the day it is run.
# Override with CALLCENTER_TEST_NOW (ISO 8601, with its offset) to try another instant.
TEST_NOW = datetime.fromisoformat(
    os.environ.get("CALLCENTER_TEST_NOW", "2026-11-23T10:00:00+01:00")
)
TEST_ZONE = ZoneInfo("Europe/Paris")
TEST_TODAY = TEST_NOW.astimezone(TEST_ZONE).date()


def pytest_configure(config: pytest.Config) -> None:
    if IN_CI and not POSTGRES_URL:
        raise pytest.UsageError(
            "CI=true mais CALLCENTER_TEST_DATABASE_URL n'est pas défini : "
            "les tests PostgreSQL ne peuvent pas être ignorés en CI."
        )


def require_component(available: bool, message: str) -> None:
    """Skip outside CI when a real component is missing; fail under CI=true."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{message} (obligatoire en CI)")
    pytest.skip(message)


def shared_file(relative: str) -> Path:
    """A file of ../shared/; skipped with its name outside CI when absent, failed in CI."""
    path = SHARED_DIR / relative
    require_component(path.exists(), f"fichier partagé introuvable : {path}")
    return path


def _is_loopback(address) -> bool:
    if isinstance(address, str | bytes):
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _monotonic_clock_is_moved() -> bool:
    """Under faketime (the any-date runs) this process's monotonic clock is moved with the
    wall clock, while the kernel times Python's timed waits (``threading.Event.wait``, which
    APScheduler's loop uses) on the real one: such a wait never returns. The kernel's uptime
    (``/proc/uptime``, not faked) tells whether that is so."""
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return abs(time.monotonic() - uptime) > 86_400


@pytest.fixture
def timed_waits() -> None:
    """For a test that runs APScheduler in this process: skipped under faketime only (the
    same test runs on every ordinary run, CI included)."""
    if _monotonic_clock_is_moved():
        pytest.skip("faketime déplace l'horloge monotone : les attentes minutées sont bloquées")


@pytest.fixture(autouse=True)
def set_clock() -> Iterator[None]:
    """Every test starts at ``TEST_NOW``: nothing in a test reads the machine's real date."""
    with time_machine.travel(TEST_NOW, tick=True):
        yield


@pytest.fixture(autouse=True)
def forbid_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that opens a connection to anything but this machine fails at once."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded(real):
        def connect(sock, address):
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
                raise AssertionError(f"connexion réseau interdite en test : {address!r}")
            return real(sock, address)

        return connect

    monkeypatch.setattr(socket.socket, "connect", guarded(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(real_connect_ex))


def make_settings(tmp_path: Path, database_url: str, **sections) -> Settings:
    data = {"app": {"data_dir": str(tmp_path / "var")}, "database": {"url": database_url}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return parse_settings(
        data, base_dir=tmp_path, environ={"CALLCENTER_SECRET_KEY": "clé-de-test-" + "x" * 32}
    )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    name = f"callcenter_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _emptied_postgres_database(request: pytest.FixtureRequest) -> str:
    """The URL of the session's migrated PostgreSQL database, every table emptied."""
    url = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


def _truncate_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture
def postgres_engine() -> Iterator[sa.Engine]:
    """For tests about PostgreSQL itself: skipped outside CI without a server, failed in CI."""
    require_component(bool(POSTGRES_URL), "CALLCENTER_TEST_DATABASE_URL non défini (PostgreSQL)")
    engine = create_db_engine(POSTGRES_URL)
    yield engine
    engine.dispose()


@pytest.fixture
def migrated_postgres_engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """The session's migrated PostgreSQL database, emptied: for behaviour only PostgreSQL has.
    Skipped outside CI without a server, failed in CI."""
    require_component(bool(POSTGRES_URL), "CALLCENTER_TEST_DATABASE_URL non défini (PostgreSQL)")
    engine = create_db_engine(_emptied_postgres_database(request))
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: a SQLite file, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "callcenter.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    return _emptied_postgres_database(request)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[sa.Engine]:
    engine = create_db_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def app(settings: Settings):
    from callcenter import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["callcenter"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "aucun jeton CSRF dans la page"
    return match.group(1)


@pytest.fixture
def make_user(app):
    """Create an account through the domain and return it."""
    from callcenter.db import session_scope
    from callcenter.domain.accounts import create_user

    def make(role: str = "agent", email: str | None = None, password: str = TEST_PASSWORD):
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@exemple.fr"
        with session_scope(app.extensions["callcenter"].engine) as session:
            return create_user(
                session,
                email=email,
                full_name=f"{role.title()} Test",
                role=role,
                password=password,
                now=utcnow(),
            )

    return make


@pytest.fixture
def login(client, make_user):
    """Sign in through the real login form; returns the user and a CSRF token for later posts."""

    def sign_in(role: str = "agent"):
        user = make_user(role)
        page = client.get("/connexion")
        response = client.post(
            "/connexion",
            data={
                "email": user.email,
                "password": TEST_PASSWORD,
                "csrf_token": csrf_from(page.get_data(as_text=True)),
            },
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        landing = client.get(response.headers["Location"])
        return user, csrf_from(landing.get_data(as_text=True))

    return sign_in
