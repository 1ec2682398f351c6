"""Set-based invoice loading: rows go to a temporary staging table in batches (executemany on
SQLite, ``COPY`` on PostgreSQL), are checked with SQL (duplicates in the file, unknown debtor,
a number already held by another debtor), counted, then merged into ``invoices`` with one
``UPDATE … FROM`` and one ``INSERT … SELECT``. Memory stays flat however long the file."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from callcenter.domain.imports.report import Counts, ImportReport
from callcenter.models import UTCDateTime

STAGE = "import_stage_invoices"
TOUCHED = "import_stage_touched"
SQLITE_CACHE_KIB = 65_536  # bounded page cache: big merges go faster, memory stays flat
BULK_LOAD_FROM = 100_000  # new invoices from which indexes and keys are built after the load
LOCK_WAIT = "2s"  # how long a large import waits to have the invoices table to itself
LOCK_REFUSED = {"55P03", "40P01"}  # lock_not_available, deadlock_detected
COLUMNS = (
    "line",
    "number",
    "account_code",
    "issue_date",
    "due_date",
    "amount_cents",
    "open_amount_cents",
    "currency",
)
StageRow = tuple[int, str, str, str | None, str | None, int | None, int | None, str]


class InvoiceStage:
    """The staging table of one import, living in the session's transaction."""

    def __init__(self, session: Session, *, dry_run: bool = False) -> None:
        self.session = session
        self.dry_run = dry_run
        self.connection = session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"
        self.rows = 0
        if self.postgres:
            self.connection.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
            self.connection.exec_driver_sql(
                f"CREATE TEMP TABLE {STAGE} (line integer, number text, account_code text, "
                "issue_date date, due_date date, amount_cents bigint, open_amount_cents bigint, "
                "currency text) ON COMMIT DROP"
            )
        else:
            self.connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            self.connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{STAGE}")
            self.connection.exec_driver_sql(
                f"CREATE TEMP TABLE {STAGE} (line INTEGER, number TEXT, account_code TEXT, "
                "issue_date TEXT, due_date TEXT, amount_cents INTEGER, open_amount_cents INTEGER, "
                "currency TEXT)"
            )

    def add(self, batch: Sequence[StageRow]) -> None:
        if not batch:
            return
        self.rows += len(batch)
        if not self.postgres:
            self.connection.exec_driver_sql(
                f"INSERT INTO temp.{STAGE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(batch)
            )
            return
        driver = self.connection.connection.driver_connection
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {STAGE} ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in batch:
                copy.write_row(row)

    def _sql(self, statement: str, **params):
        return self.connection.execute(sa.text(statement), params)

    def check(self, report: ImportReport, labels: dict[str, str]) -> None:
        """Duplicates inside the file, unknown debtors, numbers held by another debtor."""
        self.connection.exec_driver_sql(f"CREATE INDEX ix_{STAGE}_number ON {STAGE} (number)")
        if self.postgres:
            self.connection.exec_driver_sql(f"ANALYZE {STAGE}")
        duplicates = self._sql(
            f"SELECT s.line, s.number, f.first_line FROM {STAGE} s JOIN ("
            f"  SELECT number, MIN(line) AS first_line FROM {STAGE} GROUP BY number"
            "   HAVING COUNT(*) > 1) f ON f.number = s.number "
            "WHERE s.line > f.first_line ORDER BY s.line"
        )
        for line, number, first in duplicates:
            report.error(
                line,
                labels["number"],
                f"Facture « {number} » en double dans le fichier (déjà ligne {first}).",
            )
        unknown = self._sql(
            f"SELECT s.line, s.account_code FROM {STAGE} s "
            "LEFT JOIN debtors d ON d.account_code = s.account_code "
            "WHERE d.id IS NULL AND s.account_code <> '' ORDER BY s.line"
        )
        for line, account in unknown:
            report.error(
                line,
                labels["account_code"],
                f"Débiteur inconnu « {account} » : importez d'abord les débiteurs.",
            )
        elsewhere = self._sql(
            f"SELECT s.line, s.number, d.account_code FROM {STAGE} s "
            "JOIN invoices i ON i.number = s.number JOIN debtors d ON d.id = i.debtor_id "
            "WHERE d.account_code <> s.account_code ORDER BY s.line LIMIT 1000"
        )
        for line, number, account in elsewhere:
            report.error(
                line,
                labels["number"],
                f"La facture « {number} » est déjà enregistrée pour le débiteur « {account} ».",
            )

    _CHANGED = (
        "(i.issue_date <> s.issue_date OR (s.due_date IS NOT NULL AND i.due_date <> s.due_date)"
        " OR i.amount_cents <> s.amount_cents OR i.currency <> s.currency"
        " OR (s.open_amount_cents IS NOT NULL AND i.open_amount_cents <> s.open_amount_cents))"
    )

    def count(self) -> Counts:
        """Created / updated / unchanged, kept per debtor in a second temporary table for the
        timeline events."""
        temp = "" if self.postgres else "temp."
        self.connection.exec_driver_sql(f"DROP TABLE IF EXISTS {temp}{TOUCHED}")
        suffix = " ON COMMIT DROP" if self.postgres else ""
        self.connection.exec_driver_sql(
            f"CREATE TEMP TABLE {TOUCHED} (debtor_id integer, created integer, updated integer,"
            f" unchanged integer){suffix}"
        )
        self.connection.exec_driver_sql(
            f"INSERT INTO {TOUCHED} SELECT d.id,"
            " SUM(CASE WHEN i.id IS NULL THEN 1 ELSE 0 END),"
            f" SUM(CASE WHEN i.id IS NOT NULL AND {self._CHANGED} THEN 1 ELSE 0 END),"
            f" SUM(CASE WHEN i.id IS NOT NULL AND NOT {self._CHANGED} THEN 1 ELSE 0 END) "
            f"FROM {STAGE} s JOIN debtors d ON d.account_code = s.account_code "
            "LEFT JOIN invoices i ON i.number = s.number GROUP BY d.id"
        )
        created, updated, unchanged = self.connection.exec_driver_sql(
            f"SELECT COALESCE(SUM(created), 0), COALESCE(SUM(updated), 0),"
            f" COALESCE(SUM(unchanged), 0) FROM {TOUCHED}"
        ).one()
        return Counts(int(created), int(updated), int(unchanged))

    def record_events(self, *, actor_id: int | None, source: str, now: datetime) -> None:
        """One ``import`` timeline event per debtor whose invoices were created or changed,
        written by one ``INSERT … SELECT``."""
        build = "json_build_object" if self.postgres else "json_object"
        self.connection.execute(
            sa.text(
                "INSERT INTO events (debtor_id, actor_id, type, payload, at) "
                f"SELECT debtor_id, :actor_id, 'import', {build}('source', :source,"
                " 'invoices_created', created, 'invoices_updated', updated), :now "
                f"FROM {TOUCHED} WHERE created + updated > 0"
            ).bindparams(
                sa.bindparam("now", now, type_=UTCDateTime),
                sa.bindparam("actor_id", actor_id, type_=sa.Integer),
                sa.bindparam("source", source, type_=sa.String),
            )
        )

    def merge(self, counts: Counts, *, now: datetime) -> None:
        """Update changed invoices, insert new ones. The due date, when the file has none, is
        the issue date plus the debtor's payment terms; the open amount, when the file has
        none, moves by the change of the amount (payments already applied stay applied)."""
        greatest = "GREATEST" if self.postgres else "MAX"
        new_open = (
            "COALESCE(s.open_amount_cents, "
            f"{greatest}(0, invoices.open_amount_cents + s.amount_cents - invoices.amount_cents))"
        )
        now_param = sa.bindparam("now", now, type_=UTCDateTime)
        if counts.updated:
            self._update(new_open, now_param)
        if counts.created:
            self._insert(now_param, counts.created)

    def _update(self, new_open: str, now_param) -> None:
        self.connection.execute(
            sa.text(
                f"UPDATE invoices SET issue_date = s.issue_date,"
                " due_date = COALESCE(s.due_date, invoices.due_date),"
                f" amount_cents = s.amount_cents, open_amount_cents = {new_open},"
                f" status = CASE WHEN {new_open} = 0 THEN 'paid'"
                "  WHEN invoices.status = 'cancelled' THEN 'cancelled' ELSE 'open' END,"
                " currency = s.currency, updated_at = :now "
                f"FROM {STAGE} s WHERE s.number = invoices.number AND "
                + self._CHANGED.replace("i.", "invoices.")
            ).bindparams(now_param)
        )

    def _insert(self, now_param, created: int) -> None:
        if self.postgres:
            derived = "s.issue_date + d.payment_terms_days"
        else:
            derived = "date(s.issue_date, '+' || d.payment_terms_days || ' days')"
        open_amount = "COALESCE(s.open_amount_cents, s.amount_cents)"
        statement = sa.text(
            "INSERT INTO invoices (debtor_id, number, issue_date, due_date, amount_cents,"
            " open_amount_cents, currency, status, disputed, reminder_count, created_at,"
            " updated_at) "
            f"SELECT d.id, s.number, s.issue_date, COALESCE(s.due_date, {derived}),"
            f" s.amount_cents, {open_amount}, s.currency,"
            f" CASE WHEN {open_amount} = 0 THEN 'paid' ELSE 'open' END, false, 0, :now, :now "
            f"FROM {STAGE} s JOIN debtors d ON d.account_code = s.account_code "
            "WHERE NOT EXISTS (SELECT 1 FROM invoices i WHERE i.number = s.number)"
        ).bindparams(now_param)
        bulk = self._is_bulk_load(created) and self._hold_invoices_alone()
        with self._upkeep_deferred() if bulk else nullcontext():
            self.connection.execute(statement)

    def _is_bulk_load(self, created: int) -> bool:
        """A load that at least doubles the invoices table (a new customer's ledger). PostgreSQL
        keeps every index and checks the debtor key row by row as rows go in; for such a load,
        building the indexes and checking the key once afterwards takes half the time. A dry run,
        rolled back anyway, never takes the table from the agents."""
        if self.dry_run or not self.postgres or created < BULK_LOAD_FROM:
            return False
        held = self.connection.exec_driver_sql(
            "SELECT CASE WHEN reltuples < 0 THEN (SELECT count(*) FROM invoices)"
            " ELSE reltuples END FROM pg_class WHERE oid = 'invoices'::regclass"
        ).scalar_one()
        return created >= held

    def _hold_invoices_alone(self) -> bool:
        """Setting indexes and key aside needs the invoices table to itself (agents' screens
        that read invoices wait until the import commits) and debtors kept still. The import
        waits at most ``LOCK_WAIT`` for that, else it inserts row by row, blocking no one."""
        previous = self.connection.exec_driver_sql("SHOW lock_timeout").scalar_one()
        savepoint = self.connection.begin_nested()
        try:
            self._sql("SELECT set_config('lock_timeout', :wait, true)", wait=LOCK_WAIT)
            self.connection.exec_driver_sql("LOCK TABLE invoices IN ACCESS EXCLUSIVE MODE")
            self.connection.exec_driver_sql("LOCK TABLE debtors IN SHARE ROW EXCLUSIVE MODE")
        except sa.exc.OperationalError as refused:
            if getattr(refused.orig, "sqlstate", None) not in LOCK_REFUSED:
                raise
            savepoint.rollback()
            return False
        self._sql("SELECT set_config('lock_timeout', :previous, true)", previous=previous)
        savepoint.commit()
        return True

    @contextmanager
    def _upkeep_deferred(self) -> Iterator[None]:
        """Drop the secondary indexes and foreign keys of ``invoices``, then build them again
        from their own definitions, as ``pg_restore`` does. Inside the import's transaction:
        if anything fails, they were never gone."""
        keys = self.connection.exec_driver_sql(
            "SELECT quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'invoices'::regclass AND contype = 'f' ORDER BY conname"
        ).all()
        indexes = self.connection.exec_driver_sql(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
            " WHERE indrelid = 'invoices'::regclass AND NOT EXISTS"
            " (SELECT 1 FROM pg_constraint c WHERE c.conindid = pg_index.indexrelid)"
            " ORDER BY 1"
        ).all()
        for name, _ in keys:
            self.connection.exec_driver_sql(f"ALTER TABLE invoices DROP CONSTRAINT {name}")
        for name, _ in indexes:
            self.connection.exec_driver_sql(f"DROP INDEX {name}")
        yield
        for _, definition in indexes:
            self._exec_as_written(definition)
        for name, definition in keys:
            self._exec_as_written(f"ALTER TABLE invoices ADD CONSTRAINT {name} {definition}")

    def _exec_as_written(self, statement: str) -> None:
        """A definition read back from PostgreSQL, run as it is: a ``%`` in it (a ``LIKE``
        in a partial index) is not a placeholder for the driver."""
        self.connection.exec_driver_sql(statement.replace("%", "%%"))

    def touched_debtor_ids(self) -> list[int]:
        """The debtors whose invoices this import created or changed (after ``count``)."""
        return [
            int(debtor_id)
            for (debtor_id,) in self.connection.exec_driver_sql(
                f"SELECT debtor_id FROM {TOUCHED} WHERE created + updated > 0 ORDER BY debtor_id"
            )
        ]

    def drop(self) -> None:
        temp = "" if self.postgres else "temp."
        for table in (STAGE, TOUCHED):
            self.connection.exec_driver_sql(f"DROP TABLE IF EXISTS {temp}{table}")
