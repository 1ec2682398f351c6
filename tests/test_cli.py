"""The ``callcenter`` command, run as an operator would, against a configured database."""

import http.client
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from callcenter.cli import main
from tests.smtp_server import free_port


def _run(tmp_path, database_url, *args, input=None):
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n[app]\ndata_dir = "{tmp_path}/var"\n')
    runner = CliRunner()
    return runner.invoke(
        main,
        list(args),
        input=input,
        env={"CALLCENTER_CONFIG": str(config), "CALLCENTER_SECRET_KEY": "k" * 40},
    )


def test_db_upgrade_creates_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path}/fresh.db"
    result = _run(tmp_path, url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "Schéma de la base à jour." in result.output
    engine = sa.create_engine(url)
    assert "debtors" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_db_upgrade_on_each_test_database(tmp_path, database_url):
    result = _run(tmp_path, database_url, "db", "upgrade")
    assert result.exit_code == 0, result.output


def test_users_create_then_refuse_the_same_address(tmp_path, database_url):
    args = [
        "users",
        "create",
        "--email",
        "chef@exemple.fr",
        "--name",
        "Anne Chef",
        "--role",
        "supervisor",
    ]
    created = _run(
        tmp_path, database_url, *args, input="un-bon-mot-de-passe\nun-bon-mot-de-passe\n"
    )
    assert created.exit_code == 0, created.output
    assert "Compte créé : chef@exemple.fr (supervisor)." in created.output
    again = _run(tmp_path, database_url, *args, input="un-bon-mot-de-passe\nun-bon-mot-de-passe\n")
    assert again.exit_code == 1
    assert "Un compte existe déjà avec cette adresse." in again.output


def test_bad_configuration_stops_with_the_key_named(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[web]\nport = "huit"\n')
    result = CliRunner().invoke(main, ["db", "upgrade"], env={"CALLCENTER_CONFIG": str(config)})
    assert result.exit_code == 2
    assert "web.port" in result.output


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _reuses_a_connection_idle_for(port: int, seconds: float) -> bool:
    """A browser keeps an idle connection and sends its next request on it: the server
    must still hold it (gunicorn's default keep-alive of 2 s reset such requests)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/connexion")
        connection.getresponse().read()
        time.sleep(seconds)  # the idle time is what is tested
        connection.request("GET", "/connexion")
        return connection.getresponse().status == 200
    except (ConnectionError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def test_web_serves_from_the_configured_number_of_worker_processes(tmp_path, database_url):
    assert _run(tmp_path, database_url, "db", "upgrade").exit_code == 0
    port = free_port()
    config = tmp_path / "web.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n[app]\ndata_dir = "{tmp_path}/var"\n'
        f"[web]\nport = {port}\nworkers = 2\nthreads = 2\n"
    )
    environment = {
        **os.environ,
        "CALLCENTER_CONFIG": str(config),
        "CALLCENTER_SECRET_KEY": "k" * 40,
    }
    command = Path(sys.executable).with_name("callcenter")
    url = f"http://127.0.0.1:{port}/connexion"
    log = (tmp_path / "web.log").open("wb")
    server = subprocess.Popen([str(command), "web"], env=environment, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        statuses = []
        while time.monotonic() < deadline and len(statuses) < 6:
            try:
                with urllib.request.urlopen(url, timeout=5) as page:
                    statuses.append(page.status)
            except OSError:
                time.sleep(0.2)
        while time.monotonic() < deadline and len(_children(server.pid)) < 2:
            time.sleep(0.2)
        assert statuses == [200] * 6, (tmp_path / "web.log").read_text()
        assert len(_children(server.pid)) == 2, (tmp_path / "web.log").read_text()
        assert _reuses_a_connection_idle_for(port, seconds=3), "connexion fermée au repos"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_queue_refresh_prints_the_cases_per_step_and_the_exclusions_per_reason(
    tmp_path, database_url
):
    from datetime import timedelta

    from callcenter.db import create_db_engine, session_scope
    from tests.conftest import TEST_TODAY
    from tests.factories import make_contact, make_debtor, make_invoice

    assert _run(tmp_path, database_url, "db", "upgrade").exit_code == 0
    engine = create_db_engine(database_url)
    with session_scope(engine) as session:
        for days in (20, 300):
            debtor = make_debtor(session)
            make_contact(session, debtor)
            make_invoice(session, debtor, due_date=TEST_TODAY - timedelta(days=days))
        blocked = make_debtor(session, do_not_call=True)
        make_contact(session, blocked)
        make_invoice(session, blocked, due_date=TEST_TODAY - timedelta(days=20))
    engine.dispose()
    result = _run(tmp_path, database_url, "queue", "refresh")
    assert result.exit_code == 0, result.output
    assert "Dossiers par étape du processus :\n  J+15 1er appel : 3\n" in result.output
    assert "Débiteurs exclus, par motif :\n  1 : Ne pas appeler : opposition enregistrée" in (
        result.output
    )
