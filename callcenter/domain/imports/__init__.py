"""Importing receivables: debtors, contacts, invoices and payments from CSV, XLSX or FEC.

``run_import`` validates the whole file, writes (within the caller's transaction) and
returns a French report. The caller commits only when ``report.ok`` and it is not a dry run:
a dry run performs the same work and is rolled back, so its counts are exact, and any error
means nothing is written.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from callcenter.config import ImportSettings, Settings
from callcenter.domain.audit import record_event
from callcenter.domain.imports.allocation import after_payments_applied
from callcenter.domain.imports.columns import (
    FIELDS,
    KINDS,
    SHEET_KEY,
    field_labels,
    load_mapping,
    save_mapping,
)
from callcenter.domain.imports.fec import import_fec
from callcenter.domain.imports.report import Counts, ImportReport, Issue
from callcenter.domain.imports.sources import FileRefused, Table, open_table
from callcenter.domain.imports.tabular import Progress, import_table
from callcenter.domain.promises import debtors_with_open_commitments, refresh_commitments
from callcenter.domain.queue import refresh_all, refresh_debtors
from callcenter.formatting import quantity
from callcenter.models import Event

IMPORT_KINDS = (*KINDS, "fec")
DEFAULT_PAYMENT_TERMS_DAYS = 30

__all__ = [
    "IMPORT_KINDS",
    "Counts",
    "ImportReport",
    "Issue",
    "after_payments_applied",
    "run_import",
]


def run_import(
    session: Session,
    *,
    kind: str,
    path: Path,
    source_name: str | None = None,
    dry_run: bool = True,
    mapping_name: str | None = None,
    explicit_mapping: dict[str, str] | None = None,
    actor_id: int | None = None,
    payment_terms_days: int = DEFAULT_PAYMENT_TERMS_DAYS,
    now: datetime,
    progress: Progress | None = None,
    settings: Settings | None = None,
    sheet: str | None = None,
) -> ImportReport:
    """Import one file of ``kind`` (debtors, contacts, invoices, payments or fec); ``sheet``
    names the sheet of a workbook to read (else the one the mapping names under
    ``SHEET_KEY``, else the first one holding data); it is saved with the mapping.

    The column mapping is the saved one named ``mapping_name`` overridden by
    ``explicit_mapping``; after a successful import it is saved under that name for next time.
    """
    if kind not in IMPORT_KINDS:
        raise ValueError(f"unknown import kind {kind!r}")
    path = Path(path)
    report = ImportReport(kind=kind, source=source_name or path.name, dry_run=dry_run)
    mapping: dict[str, str] = {}
    if mapping_name and kind != "fec":
        mapping = load_mapping(session, name=mapping_name, kind=kind) or {}
    mapping.update(explicit_mapping or {})
    sheet = sheet or mapping.pop(SHEET_KEY, None) or None
    mapping.pop(SHEET_KEY, None)
    years = (settings.imports if settings is not None else ImportSettings()).years
    try:
        if kind == "fec":
            with open_table(path, separators=("\t", "|")) as table:
                import_fec(
                    session,
                    table=table,
                    report=report,
                    now=now,
                    actor_id=actor_id,
                    default_terms=payment_terms_days,
                    progress=progress,
                    years=years,
                )
        else:
            with open_table(path, sheet=sheet) as table:
                import_table(
                    session,
                    kind=kind,
                    table=table,
                    report=report,
                    explicit=mapping,
                    now=now,
                    actor_id=actor_id,
                    default_terms=payment_terms_days,
                    progress=progress,
                    years=years,
                )
    except FileRefused as refused:
        report.refuse(refused.message)
    if not report.ok:
        return report
    if mapping_name and kind != "fec":
        saved = {**report.mapping, SHEET_KEY: sheet} if sheet else report.mapping
        save_mapping(session, name=mapping_name, kind=kind, mapping=saved, now=now)
    return _applied(session, report, actor_id=actor_id, now=now, settings=settings)


def _applied(
    session: Session,
    report: ImportReport,
    *,
    actor_id: int | None,
    now: datetime,
    settings: Settings | None,
) -> ImportReport:
    """A valid import: audited, then promises settled and the queue re-placed (same
    transaction)."""
    record_event(
        session,
        type="import.applied",
        actor_id=actor_id,
        payload={"source": report.source, "dry_run": report.dry_run, **report.summary()},
        at=now,
    )
    if settings is not None and not report.dry_run:
        follow_up_import(session, now=now, settings=settings)
    session.flush()
    return report


def records_table(kind: str, records: list[dict[str, str]]) -> Table:
    """Records already in the import's field names (``columns.FIELDS``) as a table: line 2
    is the first record, as in a file under its header."""
    names = [spec.name for spec in FIELDS[kind] if any(spec.name in r for r in records)]
    rows = ((index + 2, [r.get(name, "") for name in names]) for index, r in enumerate(records))
    return Table(
        header=names,
        header_line=1,
        rows=rows,
        progress=lambda: (len(records), len(records)),
        description=quantity(len(records), "enregistrement reçu", "enregistrements reçus")
        + " par l'API",
    )


def run_records_import(
    session: Session,
    *,
    kind: str,
    records: list[dict[str, str]],
    source_name: str,
    actor_id: int | None,
    now: datetime,
    settings: Settings,
    payment_terms_days: int = DEFAULT_PAYMENT_TERMS_DAYS,
) -> ImportReport:
    """Import records sent by the creditor's systems through the file import's own checks
    and writes (one code path): all or nothing, errors by line (record index + 2) and field.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}")
    report = ImportReport(kind=kind, source=source_name, dry_run=False)
    import_table(
        session,
        kind=kind,
        table=records_table(kind, records),
        report=report,
        explicit={name: name for name in field_labels(kind)},
        now=now,
        actor_id=actor_id,
        default_terms=payment_terms_days,
        years=settings.imports.years,
    )
    if not report.ok:
        return report
    return _applied(session, report, actor_id=actor_id, now=now, settings=settings)


FULL_REFRESH_ABOVE = 20_000


def follow_up_import(session: Session, *, now: datetime, settings: Settings) -> int:
    """In the import's own transaction: settle promises and re-place debtors in the queue.

    The debtors touched are the ones the import wrote a timeline event for (same ``now``), so a
    debtor who just paid leaves the queue, and one whose promise is now covered sees it kept,
    before anyone can claim them. Past a size, the whole queue is recomputed in one statement.
    """
    touched = sorted(
        session.exec(
            select(Event.debtor_id)
            .where(Event.at == now, col(Event.type).in_(("import", "payments.applied")))
            .distinct()
        ).all()
    )
    touched = [debtor_id for debtor_id in touched if debtor_id is not None]
    if not touched:
        return 0
    today = now.astimezone(ZoneInfo(settings.app.timezone)).date()
    with_commitments = set(debtors_with_open_commitments(session))
    refresh_commitments(
        session,
        debtor_ids=[debtor_id for debtor_id in touched if debtor_id in with_commitments],
        today=today,
        now=now,
    )
    if len(touched) > FULL_REFRESH_ABOVE:
        refresh_all(session, now=now, settings=settings)
    else:
        refresh_debtors(session, debtor_ids=touched, now=now, settings=settings)
    return len(touched)
