"""Column mappings edited by hand: reading a file's columns, the rules of a mapping, saving and
deleting it with an audit trail."""

from __future__ import annotations

import pytest
from openpyxl import Workbook
from sqlmodel import Session, select

from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.imports.columns import load_mapping
from callcenter.domain.imports.mappings import (
    check_mapping,
    delete_column_mapping,
    proposed_choices,
    read_columns,
    save_column_mapping,
    saved_mappings,
    source_names,
)
from callcenter.domain.imports.sources import FileRefused
from callcenter.models import Event, ImportMapping, Role, utcnow
from tests.domain.imports_helpers import DEBTORS_CSV, do_import, write
from tests.factories import make_user

ERP_INVOICES = (
    "Client n°;Num;Emise le;Total;Commentaire\n"
    "C001;Z-1;15/01/2025;10,00;rien\n"
    "C002;Z-2;16/01/2025;20,00;\n"
    "C003;Z-3;17/01/2025;30,00;urgent\n"
)
ERP_CHOICES = [
    ("Client n°", "account_code"),
    ("Num", "number"),
    ("Emise le", "issue_date"),
    ("Total", "amount"),
    ("Commentaire", ""),
]


@pytest.fixture
def user_id(engine) -> int:
    with Session(engine) as session:
        user = make_user(session, role=Role.SUPERVISOR)
        session.commit()
        return user.id


def _errors(kind: str, *, name: str = "ERP", choices=ERP_CHOICES) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as refused:
        check_mapping(kind, name=name, choices=choices)
    return refused.value.errors


def test_read_columns_gives_header_and_first_values_only(tmp_path):
    path = write(tmp_path, "erp.csv", ERP_INVOICES)
    found = read_columns(path)
    assert found.header == ["Client n°", "Num", "Emise le", "Total", "Commentaire"]
    assert found.samples[1] == ["Z-1", "Z-2"]
    assert found.samples[4] == ["rien"]


def test_read_columns_of_a_workbook_and_of_an_unreadable_file(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Client n°", "Num"])
    sheet.append(["C001", 42])
    path = tmp_path / "erp.xlsx"
    workbook.save(path)
    found = read_columns(path)
    assert (found.header, found.samples) == (["Client n°", "Num"], [["C001"], ["42"]])
    with pytest.raises(FileRefused, match="Fichier binaire"):
        read_columns(write(tmp_path, "bin.csv", "\x00\x01" * 20))


def test_proposed_choices_take_saved_mapping_then_french_headers():
    header = ["Code client", "Num", "Montant TTC", "", "Divers"]
    choices = proposed_choices("invoices", header, {"Num": "number", "Divers": ""})
    assert [(c.header, c.chosen, c.recognised) for c in choices] == [
        ("Code client", "account_code", True),
        ("Num", "number", True),
        ("Montant TTC", "amount", True),
        ("Divers", "", True),
    ]
    unknown = proposed_choices("invoices", ["Num"], None, [["Z-1"]])
    assert (unknown[0].chosen, unknown[0].recognised, unknown[0].samples) == ("", False, ["Z-1"])


def test_a_valid_mapping_keeps_ignored_columns():
    mapping = check_mapping("invoices", name="  ERP  ", choices=ERP_CHOICES)
    assert mapping == dict(ERP_CHOICES)


def test_source_name_is_required_and_short():
    assert _errors("invoices", name="  ") == {
        "name": "Donnez un nom à la source (par exemple « Export Sage »)."
    }
    assert _errors("invoices", name="x" * 81) == {
        "name": "Le nom de la source ne doit pas dépasser 80 caractères (81 saisis)."
    }
    assert check_mapping("invoices", name="x" * 80, choices=ERP_CHOICES)


def test_every_required_field_must_be_mapped():
    one_missing = [choice for choice in ERP_CHOICES if choice[1] != "amount"]
    assert _errors("invoices", choices=one_missing) == {
        "fields": "Associez une colonne au champ obligatoire « Montant TTC »."
    }
    assert _errors("debtors", choices=[("Divers", "")]) == {
        "fields": "Associez une colonne à chaque champ obligatoire : « Code client », "
        "« Raison sociale »."
    }
    assert _errors("debtors", choices=[]) == {
        "fields": "Aucune colonne à associer : le fichier n'a pas d'en-tête."
    }


def test_a_field_takes_one_column_only():
    choices = [*ERP_CHOICES[:4], ("Commentaire", "number")]
    assert _errors("invoices", choices=choices) == {
        "column-4": "Le champ « N° facture » est déjà choisi pour la colonne « Num » : "
        "un champ ne reçoit qu'une colonne."
    }


def test_unknown_field_and_twin_headers_are_refused():
    choices = [*ERP_CHOICES[:4], ("Commentaire", "colour")]
    assert _errors("invoices", choices=choices) == {
        "column-4": "Champ inconnu « colour » : choisissez un champ de la liste."
    }
    twins = [*ERP_CHOICES, ("commentaire", "due_date")]
    assert _errors("invoices", choices=twins) == {
        "column-5": "Deux colonnes portent l'en-tête « commentaire » : renommez l'une d'elles "
        "dans le fichier, ou ignorez les deux."
    }
    assert check_mapping("invoices", name="ERP", choices=[*ERP_CHOICES, ("Commentaire", "")])


def test_fec_takes_no_mapping():
    with pytest.raises(DomainError, match="Le FEC a des colonnes fixes"):
        check_mapping("fec", name="ERP", choices=ERP_CHOICES)


def test_saved_mapping_is_used_by_the_next_import_and_audited(engine, tmp_path, user_id):
    assert do_import(engine, "debtors", write(tmp_path, "clients.csv", DEBTORS_CSV)).ok
    path = write(tmp_path, "erp.csv", ERP_INVOICES)
    assert not do_import(engine, "invoices", path, dry_run=True, mapping_name="ERP").ok
    with Session(engine) as session:
        save_column_mapping(
            session,
            kind="invoices",
            name=" ERP ",
            choices=ERP_CHOICES,
            actor_id=user_id,
            now=utcnow(),
        )
        session.commit()
    report = do_import(engine, "invoices", path, dry_run=True, mapping_name="ERP")
    assert report.ok, report.lines()
    assert report.counts["invoices"].created == 3
    changed = [*ERP_CHOICES[:4], ("Commentaire", "currency")]
    with Session(engine) as session:
        save_column_mapping(
            session,
            kind="invoices",
            name="ERP",
            choices=changed,
            actor_id=user_id,
            now=utcnow(),
        )
        save_column_mapping(
            session,
            kind="invoices",
            name="ERP",
            choices=changed,
            actor_id=user_id,
            now=utcnow(),
        )
        session.commit()
        assert load_mapping(session, name="ERP", kind="invoices")["Commentaire"] == "currency"
        assert source_names(session, kind="invoices") == ["ERP"]
        assert source_names(session, kind="debtors") == []
        events = session.exec(
            select(Event).where(Event.type == "import_mapping.saved").order_by(Event.id)
        ).all()
    assert [event.actor_id for event in events] == [user_id, user_id]
    assert events[0].payload["before"] is None
    assert events[1].payload["before"]["Commentaire"] == ""
    assert events[1].payload["after"]["Commentaire"] == "currency"


def test_invalid_mapping_saves_nothing(engine, user_id):
    with Session(engine) as session, pytest.raises(ValidationFailed):
        save_column_mapping(
            session,
            kind="invoices",
            name="",
            choices=[],
            actor_id=user_id,
            now=utcnow(),
        )
    with Session(engine) as session:
        assert saved_mappings(session) == []
        assert session.exec(select(Event)).all() == []


def test_delete_mapping_is_audited(engine, user_id):
    with Session(engine) as session:
        row = save_column_mapping(
            session,
            kind="invoices",
            name="ERP",
            choices=ERP_CHOICES,
            actor_id=user_id,
            now=utcnow(),
        )
        session.commit()
        delete_column_mapping(
            session,
            mapping_id=row.id,
            actor_id=user_id,
            now=utcnow(),
        )
        session.commit()
        assert session.exec(select(ImportMapping)).all() == []
        deleted = session.exec(select(Event).where(Event.type == "import_mapping.deleted")).one()
        assert deleted.payload["name"] == "ERP" and deleted.payload["before"]["Num"] == "number"
        with pytest.raises(DomainError, match="Correspondance introuvable"):
            delete_column_mapping(
                session,
                mapping_id=row.id,
                actor_id=user_id,
                now=utcnow(),
            )
