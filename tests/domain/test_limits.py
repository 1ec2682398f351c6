"""Short texts hold one line within their length on SQLite as on PostgreSQL: refused with a
French message before anything is written (SQLite would store them, PostgreSQL would fail)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from callcenter.domain.errors import ValidationFailed
from callcenter.models import Contact, Debtor
from tests.factories import make_debtor


def _debtors(session) -> int:
    return session.execute(sa.text("SELECT count(*) FROM debtors")).scalar_one()


def test_a_name_longer_than_its_column_is_refused_on_every_database(session):
    session.add(Debtor(account_code="411C1", name="N" * 201))
    with pytest.raises(ValidationFailed) as refused:
        session.flush()
    assert refused.value.errors == {
        "name": "Ce texte ne peut pas dépasser 200 caractères (il en a 201)."
    }
    session.rollback()
    assert _debtors(session) == 0


@pytest.mark.parametrize("name", ["Dupont\r\nBcc: espion@pirate.fr", "Dupont\x00", "Du\tpont"])
def test_a_line_break_or_control_character_in_a_name_is_refused(session, name):
    debtor = make_debtor(session, name="Durand SA", account_code="411C2")
    session.commit()
    session.add(Contact(debtor_id=debtor.id, full_name=name, email="a@exemple.fr"))
    with pytest.raises(ValidationFailed) as refused:
        session.flush()
    assert "retour à la ligne" in refused.value.errors["full_name"]
    session.rollback()
    assert session.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one() == 0


def test_a_change_to_an_existing_row_is_checked_too(session):
    debtor = make_debtor(session, name="Durand SA", account_code="411C3")
    session.commit()
    debtor.city = "Paris\nCedex"
    with pytest.raises(ValidationFailed):
        session.commit()
    session.rollback()
    assert session.get(Debtor, debtor.id).city is None


def test_a_value_at_its_limit_is_stored_whole(session):
    debtor = make_debtor(session, name="É" * 200, account_code="411C4")
    session.commit()
    session.expire_all()
    assert session.get(Debtor, debtor.id).name == "É" * 200
