"""The import page: upload, dry-run report, apply; supervisors and admins only."""

from __future__ import annotations

import io

import sqlalchemy as sa

from callcenter.domain.imports.fec import FEC_COLUMNS
from tests.conftest import shared_file
from tests.domain.imports_helpers import DEBTORS_CSV


def _count(app, table: str) -> int:
    engine = app.extensions["callcenter"].engine
    with engine.connect() as connection:
        return connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one()


def _upload(client, token, kind, name, content: bytes, htmx=True):
    headers = {"X-CSRFToken": token}
    if htmx:
        headers["HX-Request"] = "true"
    return client.post(
        "/imports/verifier",
        data={"kind": kind, "file": (io.BytesIO(content), name), "payment_terms_days": "30"},
        headers=headers,
        content_type="multipart/form-data",
    )


def test_page_is_french_with_progress_and_no_inline_script(client, login):
    login("supervisor")
    html = client.get("/imports/").get_data(as_text=True)
    assert "Vérifier le fichier" in html
    assert '<progress id="upload-progress"' in html
    assert "js/imports.js" in html
    assert 'hx-encoding="multipart/form-data"' in html
    assert "<script>" not in html


def test_check_then_apply_debtors(app, client, login):
    user, token = login("supervisor")
    checked = _upload(client, token, "debtors", "clients.csv", DEBTORS_CSV.encode())
    html = checked.get_data(as_text=True)
    assert checked.status_code == 200, html
    assert 'id="imports-workspace"' in html and "<html" not in html
    assert "Simulation : rien n'a encore été enregistré." in html
    assert "Appliquer l'import" in html
    assert _count(app, "debtors") == 0
    batch_id = _count(app, "import_batches")
    applied = client.post(
        f"/imports/{batch_id}/appliquer", headers={"X-CSRFToken": token, "HX-Request": "true"}
    )
    assert applied.status_code == 200
    assert "Import enregistré." in applied.get_data(as_text=True)
    assert _count(app, "debtors") == 3
    engine = app.extensions["callcenter"].engine
    with engine.connect() as connection:
        actor = connection.execute(
            sa.text("SELECT actor_id FROM events WHERE type = 'import.applied'")
        ).scalar_one()
    assert actor == user.id
    again = client.post(f"/imports/{batch_id}/appliquer", headers={"X-CSRFToken": token})
    assert again.status_code == 409
    assert "renvoyez le fichier" in again.get_data(as_text=True)


def test_errors_are_tabled_and_nothing_is_written(app, client, login):
    _user, token = login("admin")
    bad = b"Code client;Raison sociale;SIREN\nC001;Martin;123456789\n"
    response = _upload(client, token, "debtors", "clients.csv", bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="import-errors"' in html
    assert "<td>2</td><td>SIREN</td><td>SIREN invalide « 123456789 »" in html
    assert "Appliquer" not in html
    assert _count(app, "debtors") == 0


def test_binary_file_and_missing_kind_are_refused_in_french(client, login):
    _user, token = login("supervisor")
    response = _upload(client, token, "invoices", "factures.csv", b"\x00\x01\x02" * 50)
    assert response.status_code == 422
    assert "Fichier refusé : Fichier binaire" in response.get_data(as_text=True)
    response = _upload(client, token, "rien", "factures.csv", b"x")
    assert response.status_code == 422
    assert "Choisissez le type de fichier" in response.get_data(as_text=True)


def test_real_fec_upload_full_page_then_skipped_lines(client, login):
    _user, token = login("supervisor")
    content = shared_file("fec/000000000FEC20231231.txt").read_bytes()
    response = _upload(client, token, "fec", "fec.txt", content, htmx=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in html and 'id="import-counts"' in html
    assert "<td>Factures</td><td>20</td>" in html
    assert "ne contient pas d&#39;échéance" in html
    header = "\t".join(FEC_COLUMNS)
    orphan = "OD\tOD\t1\t20240105\t411000\tClients\t\t\tP1\t20240105\tx\t1,00\t0,00\t\t\t\t\t"
    response = _upload(client, token, "fec", "fec2.txt", f"{header}\n{orphan}\n".encode())
    html = response.get_data(as_text=True)
    assert "Lignes ignorées (1)" in html and "<td>2</td><td>CompAuxNum</td>" in html
    page = client.get("/imports/2")
    assert "Lignes ignorées (1)" in page.get_data(as_text=True)


def test_agent_is_refused(client, login):
    _user, token = login("agent")
    assert client.get("/imports/").status_code == 403
    response = _upload(client, token, "debtors", "c.csv", DEBTORS_CSV.encode())
    assert response.status_code == 403
