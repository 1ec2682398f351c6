"""Shared helpers of the import tests: write a file, import it as the CLI and web do."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from callcenter.domain.imports import ImportReport, run_import
from callcenter.models import utcnow

TABLES = ("debtors", "contacts", "invoices", "payments", "payment_allocations", "events")


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def do_import(engine, kind: str, path: Path, *, dry_run: bool = False, **options) -> ImportReport:
    """One unit of work: committed only when the report is clean and it is not a dry run."""
    options.setdefault("now", utcnow())
    with Session(engine, expire_on_commit=False) as session:
        report = run_import(session, kind=kind, path=path, dry_run=dry_run, **options)
        if report.ok and not dry_run:
            session.commit()
        else:
            session.rollback()
    return report


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(
                sa.select(sa.func.count()).select_from(SQLModel.metadata.tables[name])
            ).scalar_one()
            for name in TABLES
        }


def messages(report: ImportReport) -> list[tuple[int | None, str | None, str]]:
    return [(issue.line, issue.column, issue.message) for issue in report.errors]


DEBTORS_CSV = (
    "Code client;Raison sociale;SIREN;Délai de paiement\n"
    "C001;Boulangerie Martin;732 829 320;45\n"
    "C002;Transports Dubois;;\n"
    "C003;Garage Leroy;552100554;30\n"
)
