"""The sheet a saved mapping names is shown as such, never as a column to map."""

from __future__ import annotations

from sqlmodel import Session

from callcenter.domain.imports.columns import SHEET_KEY, load_mapping, save_mapping


def test_a_saved_sheet_is_listed_as_the_sheet_and_kept_when_the_columns_change(app, client, login):
    _user, token = login("admin")
    engine = app.extensions["callcenter"].engine
    with Session(engine) as session:
        save_mapping(
            session,
            name="Export ERP",
            kind="debtors",
            mapping={"Client n°": "account_code", "Nom": "name", SHEET_KEY: "Anciens"},
        )
        session.commit()
    html = client.get("/imports/correspondances").get_data(as_text=True)
    assert "<li>Feuille du classeur : « Anciens »</li>" in html
    assert SHEET_KEY not in html
    edit = client.get("/imports/correspondances/1", headers={"HX-Request": "true"})
    assert edit.status_code == 200 and SHEET_KEY not in edit.get_data(as_text=True)
    saved = client.post(
        "/imports/correspondances/1",
        data={"column-0": "account_code", "column-1": "name"},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert saved.status_code == 200, saved.get_data(as_text=True)
    with Session(engine) as session:
        assert load_mapping(session, name="Export ERP", kind="debtors") == {
            "Client n°": "account_code",
            "Nom": "name",
            SHEET_KEY: "Anciens",
        }
