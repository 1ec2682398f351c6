"""The import page: upload, dry-run report, apply; supervisors and admins only."""

from __future__ import annotations

import io
import json
import re

import pytest
import sqlalchemy as sa

from callcenter.domain.imports.fec import FEC_COLUMNS
from tests.conftest import shared_file
from tests.domain.imports_helpers import DEBTORS_CSV
from tests.domain.test_imports import SPOILED_SHEETS, spoiled_xlsx


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


@pytest.mark.parametrize("spoil", sorted(SPOILED_SHEETS))
def test_a_spoiled_xlsx_is_refused_in_french_and_leaves_no_file(
    app, client, login, tmp_path, spoil
):
    _user, token = login("supervisor")
    change, expected = SPOILED_SHEETS[spoil]
    content = spoiled_xlsx(tmp_path / "clients.xlsx", change).read_bytes()
    response = _upload(client, token, "debtors", "clients.xlsx", content)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Fichier Excel illisible : " + expected in html
    assert _count(app, "debtors") == 0
    assert list(app.extensions["callcenter"].settings.uploads_path.iterdir()) == []
    engine = app.extensions["callcenter"].engine
    with engine.connect() as connection:
        batch = connection.exec_driver_sql("SELECT status, stored_path FROM import_batches").one()
        types = connection.exec_driver_sql("SELECT type FROM events").scalars().all()
    assert not [type_ for type_ in types if type_.startswith("import")]
    assert tuple(batch) == ("refused", None)


def test_real_fec_upload_full_page_then_skipped_lines(client, login):
    _user, token = login("supervisor")
    content = shared_file("fec/000000000FEC20231231.txt").read_bytes()
    response = _upload(client, token, "fec", "fec.txt", content, htmx=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in html and 'id="import-counts"' in html
    assert "<td>Factures</td><td>0</td>" in html
    assert "153 écritures client non attribuables" in html
    assert "Lignes ignorées (153)" in html
    assert "ne contient pas d&#39;échéance" not in html, "rien à importer : pas de note d'échéance"
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


# --- column mappings --------------------------------------------------------------------------

ERP_DEBTORS = (
    "Client n°;Société cliente;Remarque\n"
    "C001;Boulangerie Martin;fidèle\n"
    "C002;Transports Dubois;\n"
    "C003;Garage Leroy;à relancer\n"
)
ERP_FORM = {"column-0": "account_code", "column-1": "name", "column-2": ""}


def _map(client, token, batch_id, fields, name="Export ERP"):
    return client.post(
        f"/imports/{batch_id}/colonnes",
        data={**fields, "mapping_name": name},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )


def _mappings(app) -> list[tuple]:
    engine = app.extensions["callcenter"].engine
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT name, kind, mapping FROM import_mappings ORDER BY id")
        ).all()
    return [
        (name, kind, mapping if isinstance(mapping, dict) else json.loads(mapping))
        for name, kind, mapping in rows
    ]


def _events(app, type_: str) -> list:
    engine = app.extensions["callcenter"].engine
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT actor_id FROM events WHERE type = :type"), {"type": type_}
        ).all()


def test_unknown_headers_get_the_column_form_prefilled(client, login):
    _user, token = login("supervisor")
    response = _upload(client, token, "debtors", "erp.csv", ERP_DEBTORS.encode())
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Colonne inconnue « Client n° »" in html
    assert 'id="import-columns"' in html and "<summary>Associer les colonnes</summary>" in html
    assert 'action="/imports/1/colonnes"' in html
    assert '<label for="import-columns-column-0">Client n°</label>' in html
    assert "C001 ; C002" in html and "fidèle" in html
    assert '<option value="account_code" >Code client *</option>' in html
    assert '<option value="" selected>— ignorer —</option>' in html
    assert "* champ obligatoire : « Code client », « Raison sociale »." in html
    assert 'name="csrf_token"' in html


def test_known_headers_are_preselected_and_fec_has_no_column_form(client, login):
    _user, token = login("supervisor")
    html = _upload(client, token, "debtors", "c.csv", DEBTORS_CSV.encode()).get_data(as_text=True)
    assert '<option value="account_code" selected>Code client *</option>' in html
    assert '<option value="payment_terms_days" selected>Délai de paiement</option>' in html
    content = shared_file("fec/000000000FEC20231231.txt").read_bytes()
    html = _upload(client, token, "fec", "fec.txt", content).get_data(as_text=True)
    assert "Associer les colonnes" not in html


def test_posting_a_mapping_saves_it_and_the_file_is_checked_again(app, client, login):
    user, token = login("supervisor")
    _upload(client, token, "debtors", "erp.csv", ERP_DEBTORS.encode())
    response = _map(client, token, 1, ERP_FORM)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "Correspondance « Export ERP » enregistrée ; le fichier a été vérifié à nouveau." in html
    assert "Simulation : rien n'a encore été enregistré." in html
    assert "<td>Débiteurs</td><td>3</td><td>0</td><td>0</td>" in html
    assert "Appliquer l'import" in html
    assert _mappings(app) == [
        (
            "Export ERP",
            "debtors",
            {"Client n°": "account_code", "Société cliente": "name", "Remarque": ""},
        )
    ]
    assert _events(app, "import_mapping.saved") == [(user.id,)]
    assert _count(app, "debtors") == 0
    applied = client.post(
        "/imports/1/appliquer", headers={"X-CSRFToken": token, "HX-Request": "true"}
    )
    assert applied.status_code == 200 and _count(app, "debtors") == 3
    again = _upload_with_source(client, token, ERP_DEBTORS.replace("C003", "C004"), "Export ERP")
    html = again.get_data(as_text=True)
    assert again.status_code == 200, html
    assert "<td>Débiteurs</td><td>1</td><td>0</td><td>2</td>" in html
    assert 'value="Export ERP"' in html


def _upload_with_source(client, token, text: str, source: str):
    return client.post(
        "/imports/verifier",
        data={
            "kind": "debtors",
            "file": (io.BytesIO(text.encode()), "erp2.csv"),
            "payment_terms_days": "30",
            "mapping_name": source,
        },
        headers={"X-CSRFToken": token, "HX-Request": "true"},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    ("fields", "name", "where", "message"),
    [
        (
            {"column-0": "account_code", "column-1": "", "column-2": ""},
            "Export ERP",
            "fields",
            "Associez une colonne au champ obligatoire « Raison sociale ».",
        ),
        (
            {"column-0": "account_code", "column-1": "name", "column-2": "name"},
            "Export ERP",
            "column-2",
            "Le champ « Raison sociale » est déjà choisi pour la colonne « Société cliente »",
        ),
        (ERP_FORM, "   ", "name", "Donnez un nom à la source (par exemple « Export Sage »)."),
        (ERP_FORM, "E" * 81, "name", "Le nom de la source ne doit pas dépasser 80 caractères"),
    ],
)
def test_invalid_mapping_is_refused_next_to_the_field(
    app, client, login, fields, name, where, message
):
    _user, token = login("supervisor")
    _upload(client, token, "debtors", "erp.csv", ERP_DEBTORS.encode())
    response = _map(client, token, 1, fields, name=name)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="import-columns-{where}-error" role="alert">{message}' in html
    assert "<details open>" in html
    assert f'value="{name}"' in html
    if where == "column-2":
        assert (
            '<option value="name" selected>Raison sociale *</option>'
            in html.split('name="column-2"')[1].split("</select>")[0]
        )
    assert _mappings(app) == []
    assert _events(app, "import_mapping.saved") == []


def test_saved_sources_are_offered_for_the_chosen_kind(client, login):
    _user, token = login("supervisor")
    _upload(client, token, "debtors", "erp.csv", ERP_DEBTORS.encode())
    assert _map(client, token, 1, ERP_FORM).status_code == 200
    page = client.get("/imports/").get_data(as_text=True)
    assert '<datalist id="import-mapping-sources">' in page
    assert '<option value="Export ERP"></option>' in page
    assert 'hx-get="/imports/sources"' in page
    invoices = client.get("/imports/sources?kind=invoices", headers={"HX-Request": "true"})
    html = invoices.get_data(as_text=True)
    assert html.lstrip().startswith('<div class="field" id="import-source-field">')
    assert "Export ERP" not in html and "Aucune source enregistrée pour ce type" in html
    debtors = client.get("/imports/sources?kind=debtors&mapping_name=X").get_data(as_text=True)
    assert '<option value="Export ERP"></option>' in debtors and 'value="X"' in debtors
    fec = client.get("/imports/sources?kind=fec").get_data(as_text=True)
    assert "Le FEC a des colonnes fixes" in fec and 'name="mapping_name"' not in fec


def test_saved_mappings_are_listed_edited_and_deleted(app, client, login):
    user, token = login("admin")
    _upload(client, token, "debtors", "erp.csv", ERP_DEBTORS.encode())
    _map(client, token, 1, ERP_FORM)
    page = client.get("/imports/correspondances")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1>Correspondances enregistrées</h1>" in html
    assert "<td>Export ERP</td>" in html and "<td>Débiteurs</td>" in html
    assert "<li>Client n° → Code client</li>" in html
    assert '<li>Remarque → <span class="muted">ignorée</span></li>' in html
    assert 'hx-confirm="Supprimer la correspondance « Export ERP »' in html
    edit = client.get("/imports/correspondances/1", headers={"HX-Request": "true"})
    html = edit.get_data(as_text=True)
    assert html.lstrip().startswith('<section class="card" id="import-mappings">')
    assert "Modifier la correspondance « Export ERP » — Débiteurs" in html
    assert '<option value="name" selected>Raison sociale *</option>' in html
    assert "Exemples de valeurs" not in html
    changed = {**ERP_FORM, "column-2": "segment"}
    saved = client.post(
        "/imports/correspondances/1",
        data=changed,
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert saved.status_code == 200
    assert saved.headers["HX-Push-Url"] == "/imports/correspondances"
    assert "Correspondance « Export ERP » enregistrée." in saved.get_data(as_text=True)
    assert _mappings(app)[0][2]["Remarque"] == "segment"
    refused = client.post(
        "/imports/correspondances/1",
        data={**changed, "column-0": ""},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert refused.status_code == 422
    assert "Associez une colonne au champ obligatoire « Code client »." in refused.get_data(
        as_text=True
    )
    assert _mappings(app)[0][2]["Client n°"] == "account_code"
    deleted = client.post(
        "/imports/correspondances/1/supprimer",
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    html = deleted.get_data(as_text=True)
    assert deleted.status_code == 200
    assert "Correspondance « Export ERP » supprimée." in html
    assert "Aucune correspondance enregistrée." in html
    assert _mappings(app) == []
    assert _events(app, "import_mapping.deleted") == [(user.id,)]
    assert client.get("/imports/correspondances/1").status_code == 404


def test_mapping_routes_need_the_csrf_token_and_refuse_agents(app, client, login):
    _user, token = login("supervisor")
    _upload(client, token, "debtors", "erp.csv", ERP_DEBTORS.encode())
    without = client.post("/imports/1/colonnes", data={**ERP_FORM, "mapping_name": "ERP"})
    assert without.status_code == 400
    assert _mappings(app) == []
    client.post("/deconnexion", headers={"X-CSRFToken": token})
    _agent, agent_token = login("agent")
    headers = {"X-CSRFToken": agent_token}
    assert client.get("/imports/correspondances").status_code == 403
    assert client.get("/imports/sources?kind=debtors").status_code == 403
    assert _map(client, agent_token, 1, ERP_FORM).status_code == 403
    assert client.post("/imports/correspondances/1/supprimer", headers=headers).status_code == 403


def test_the_file_type_stays_chosen_and_errors_read_in_line_order(client, login):
    _user, token = login("supervisor")
    contacts = (
        "Code client;Nom du contact;Téléphone;E-mail\n"
        "C001;Anne;12;compta@x.example\n"
        "C002;Paul;01 42 68 53 00;faux@\n"
        "C003;Zoé;13;\n"
    ).encode()
    html = _upload(client, token, "contacts", "contacts.csv", contacts).get_data(as_text=True)
    assert '<option value="contacts" selected>' in html
    lines = re.findall(r"<tr><td>(\d+)</td><td>", html.split('id="import-errors"')[1])
    assert lines == sorted(lines, key=int) and len(lines) >= 3
