"""Civility: read from the files as people write it, used to greet on the phone and in emails."""

import pytest

from callcenter.domain.addressing import addressed, greeting
from callcenter.domain.imports.values import BadValue, civility
from callcenter.models import Contact


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("Mme", "Madame"),
        ("MME.", "Madame"),
        ("Madame", "Madame"),
        ("Mlle", "Madame"),
        ("M.", "Monsieur"),
        ("m", "Monsieur"),
        ("Mr", "Monsieur"),
        (" monsieur ", "Monsieur"),
    ],
)
def test_civility_as_written_in_files(typed, read):
    assert civility(typed) == read


def test_an_unknown_civility_is_refused_in_french():
    with pytest.raises(BadValue, match="Civilité « Dr » non reconnue : attendu Madame ou Monsieur"):
        civility("Dr")


def test_a_contact_is_addressed_by_civility_and_surname_when_known():
    known = Contact(debtor_id=1, full_name="Hélène Dupré", civility="Madame")
    unknown = Contact(debtor_id=1, full_name="Service comptabilité")
    assert addressed(known) == "Madame Dupré"
    assert addressed(unknown) == "Service comptabilité"
    assert greeting(known) == "Bonjour Madame Dupré"
    assert greeting(unknown) == "Bonjour"
    assert greeting(None) == "Bonjour"
