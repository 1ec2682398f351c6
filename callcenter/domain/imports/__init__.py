"""Importing receivables: debtors, contacts, invoices and payments from CSV, XLSX or FEC.

``run_import`` validates the whole file, writes (within the caller's transaction) and
returns a French report. The caller commits only when ``report.ok`` and it is not a dry run:
a dry run performs the same work and is rolled back, so its counts are exact, and any error
means nothing is written.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from callcenter.domain.audit import record_event
from callcenter.domain.imports.allocation import after_payments_applied
from callcenter.domain.imports.columns import KINDS, load_mapping, save_mapping
from callcenter.domain.imports.fec import import_fec
from callcenter.domain.imports.report import Counts, ImportReport, Issue
from callcenter.domain.imports.sources import FileRefused, open_table
from callcenter.domain.imports.tabular import Progress, import_table
from callcenter.models import utcnow

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
    now: datetime | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import one file of ``kind`` (debtors, contacts, invoices, payments or fec).

    The column mapping is the saved one named ``mapping_name`` overridden by
    ``explicit_mapping``; after a successful import it is saved under that name for next time.
    """
    if kind not in IMPORT_KINDS:
        raise ValueError(f"unknown import kind {kind!r}")
    now = now or utcnow()
    path = Path(path)
    report = ImportReport(kind=kind, source=source_name or path.name, dry_run=dry_run)
    mapping: dict[str, str] = {}
    if mapping_name and kind != "fec":
        mapping = load_mapping(session, name=mapping_name, kind=kind) or {}
    mapping.update(explicit_mapping or {})
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
                )
        else:
            with open_table(path) as table:
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
                )
    except FileRefused as refused:
        report.refuse(refused.message)
    if not report.ok:
        return report
    if mapping_name and kind != "fec":
        save_mapping(session, name=mapping_name, kind=kind, mapping=report.mapping, now=now)
    record_event(
        session,
        type="import.applied",
        actor_id=actor_id,
        payload={"source": report.source, "dry_run": dry_run, **report.summary()},
        at=now,
    )
    session.flush()
    return report
