"""Every search on typed text takes ``%``, ``_`` and the escape characters as they are."""

from __future__ import annotations

import pytest

from callcenter.domain.cockpit import search_debtors
from callcenter.domain.queue import report as queue_report
from callcenter.models import QueueItem
from tests.factories import make_debtor, make_invoice

NAMES = ("100% Bio", "Garage_Nord", "GarageXNord", "Atelier A/B", "Atelier A\\B", "Autre SARL")
# What was typed, and the only names it may find.
SEARCHES = {
    "%": {"100% Bio"},
    "_": {"Garage_Nord"},
    "e_n": {"Garage_Nord"},
    "0%b": set(),
    "a/b": {"Atelier A/B"},
    "a\\b": {"Atelier A\\B"},
    "//": set(),
}


@pytest.fixture
def debtors(session):
    for name in NAMES:
        debtor = make_debtor(session, name=name)
        session.add(QueueItem(debtor_id=debtor.id))
    session.flush()


@pytest.mark.parametrize("typed", sorted(SEARCHES))
def test_the_queue_search_takes_wildcards_literally(session, debtors, typed):
    found = {row.name for row in queue_report.search(session, text=typed)}
    assert found == SEARCHES[typed]


@pytest.mark.parametrize("typed", sorted(SEARCHES))
def test_the_cockpit_search_takes_wildcards_literally(session, debtors, typed):
    found = {f.name for f in search_debtors(session, text=typed) if f.matched == "Nom ou code"}
    assert found == SEARCHES[typed]


def test_an_invoice_number_is_matched_by_its_beginning_taken_literally(session):
    debtor = make_debtor(session, name="Numéros SARL")
    make_invoice(session, debtor, number="FA_2026-001")
    other = make_debtor(session, name="Autre")
    make_invoice(session, other, number="FAX2026-002")
    found = {(f.name, f.matched) for f in search_debtors(session, text="FA_")}
    assert found == {("Numéros SARL", "Facture")}
