"""PostgreSQL bulk load of invoices: indexes built and the debtor key checked after the insert,
inside the import's transaction, only when the table can be had to itself."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from callcenter.domain.imports import staging
from tests.domain.imports_helpers import DEBTORS_CSV, do_import, row_counts, write

HEADER = "Code client;N° facture;Date facture;Échéance;Montant TTC\n"


def _invoices_csv(tmp_path, name: str, numbers: range):
    rows = [f"C00{1 + n % 3};B{n:04d};15/01/2025;14/02/2025;10,00\n" for n in numbers]
    return write(tmp_path, name, HEADER + "".join(rows))


def _upkeep(engine) -> dict[str, tuple[int, str]]:
    """Each index and foreign key of invoices: its object id (new when rebuilt), its definition."""
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT indexrelid::regclass::text, indexrelid::int, pg_get_indexdef(indexrelid)"
            " FROM pg_index WHERE indrelid = 'invoices'::regclass"
            " UNION ALL SELECT conname, oid::int, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'invoices'::regclass AND contype = 'f'"
        ).all()
    return {name: (oid, definition) for name, oid, definition in rows}


def _definitions(upkeep):
    return {name: definition for name, (_, definition) in upkeep.items()}


def _rebuilt(before, after) -> set[str]:
    return {name for name in before if before[name][0] != after[name][0]}


@pytest.fixture
def engine(migrated_postgres_engine, tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "BULK_LOAD_FROM", 2)
    report = do_import(migrated_postgres_engine, "debtors", write(tmp_path, "c.csv", DEBTORS_CSV))
    assert report.ok, report.lines()
    return migrated_postgres_engine


def test_a_load_into_an_empty_table_rebuilds_indexes_and_key_as_they_were(engine, tmp_path):
    before = _upkeep(engine)
    report = do_import(engine, "invoices", _invoices_csv(tmp_path, "f.csv", range(6)))
    assert report.ok, report.lines()
    after = _upkeep(engine)
    assert _rebuilt(before, after) == set(before) - {"invoices_pkey"}
    assert _definitions(after) == _definitions(before)
    assert {"ix_invoices_number", "ix_invoices_open_aging", "invoices_debtor_id_fkey"} <= set(after)
    assert row_counts(engine)["invoices"] == 6


def test_a_dry_run_never_takes_the_table_from_the_agents(engine, tmp_path, monkeypatch):
    asked: list[bool] = []
    hold = staging.InvoiceStage._hold_invoices_alone

    def spied(stage):
        asked.append(stage.dry_run)
        return hold(stage)

    monkeypatch.setattr(staging.InvoiceStage, "_hold_invoices_alone", spied)
    path = _invoices_csv(tmp_path, "f.csv", range(6))
    report = do_import(engine, "invoices", path, dry_run=True)
    assert report.ok, report.lines()
    assert report.counts["invoices"].created == 6
    assert asked == []
    assert do_import(engine, "invoices", path).ok
    assert asked == [False]


def test_a_load_smaller_than_the_table_goes_row_by_row(engine, tmp_path):
    assert do_import(engine, "invoices", _invoices_csv(tmp_path, "a.csv", range(6))).ok
    before = _upkeep(engine)
    report = do_import(engine, "invoices", _invoices_csv(tmp_path, "b.csv", range(11)))
    assert report.ok, report.lines()
    assert report.counts["invoices"].created == 5
    assert _rebuilt(before, _upkeep(engine)) == set()


def test_a_failure_after_the_indexes_are_dropped_leaves_them_in_place(
    engine, tmp_path, monkeypatch
):
    before = _upkeep(engine)
    deferred = staging.InvoiceStage._upkeep_deferred

    @contextmanager
    def failing(stage):
        with deferred(stage):
            raise RuntimeError("panne pendant le chargement")
            yield

    monkeypatch.setattr(staging.InvoiceStage, "_upkeep_deferred", failing)
    with pytest.raises(RuntimeError):
        do_import(engine, "invoices", _invoices_csv(tmp_path, "f.csv", range(6)))
    assert _upkeep(engine) == before
    assert row_counts(engine)["invoices"] == 0


def test_a_busy_invoices_table_is_waited_for_briefly_then_loaded_row_by_row(
    engine, tmp_path, monkeypatch
):
    monkeypatch.setattr(staging, "LOCK_WAIT", "200ms")
    before = _upkeep(engine)
    with engine.connect() as agent_screen:
        agent_screen.exec_driver_sql("SELECT count(*) FROM invoices").scalar_one()
        report = do_import(engine, "invoices", _invoices_csv(tmp_path, "f.csv", range(6)))
        agent_screen.rollback()
    assert report.ok, report.lines()
    assert report.counts["invoices"].created == 6
    assert _rebuilt(before, _upkeep(engine)) == set()


def test_an_index_whose_definition_holds_a_percent_sign_is_built_again(engine, tmp_path):
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE INDEX ix_invoices_b_series ON invoices (number) WHERE number LIKE 'B%%'"
        )
    try:
        before = _upkeep(engine)
        report = do_import(engine, "invoices", _invoices_csv(tmp_path, "f.csv", range(6)))
        assert report.ok, report.lines()
        after = _upkeep(engine)
        assert "ix_invoices_b_series" in _rebuilt(before, after)
        assert _definitions(after) == _definitions(before)
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP INDEX IF EXISTS ix_invoices_b_series")
