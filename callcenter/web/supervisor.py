"""Supervisor pages: the portfolio at a glance, the aged balance (balance âgée), the audit log."""

from __future__ import annotations

import csv
import io
import math
import re
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, render_template, request
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter import formatting
from callcenter.db import read_only
from callcenter.domain.aging import (
    AMOUNT_COLUMNS,
    ORDER_LABELS,
    AgingAmounts,
    AgingOrder,
    AgingTally,
    aged_balance,
    dso,
    iter_aged_balance,
    parse_order,
    segments,
)
from callcenter.domain.audit_log import AuditFilters, audit_page, audit_people, iter_audit_entries
from callcenter.domain.calls import STATUS_LABELS
from callcenter.domain.cockpit import DISPUTE_STATUS_LABELS, PROMISE_STATUS_LABELS, export_rows
from callcenter.domain.errors import ValidationFailed
from callcenter.domain.portfolio import portfolio_summary
from callcenter.domain.queue.ladder import SEGMENT_TITLES
from callcenter.models import Role, User
from callcenter.web import clock, db, htmx, parse_id, state
from callcenter.web.auth import guard_blueprint

bp = Blueprint("supervisor", __name__, url_prefix="/supervision")
guard_blueprint(bp, Role.SUPERVISOR, Role.ADMIN)

AGING_PAGE_SIZE = 50
EXPORT_HEADERS = (
    "Code compte",
    "Débiteur",
    "Segment",
    *(label for _, label in AMOUNT_COLUMNS),
    "Avoir",
)
XLSX_MONEY_FORMAT = "#,##0.00 €"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_CHUNK_BYTES = 64 * 1024
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _today() -> date:
    return clock().today()


def segment_label(segment: str) -> str:
    return SEGMENT_TITLES.get(segment, segment)


@bp.get("/")
def home():
    session = db()
    today = _today()
    summary = portfolio_summary(session, today=today)
    agents = session.exec(
        select(User).where(User.role == Role.AGENT, User.active).order_by(User.full_name)
    ).all()
    return render_template("supervisor/home.html", summary=summary, agents=agents, today=today)


def _aging_filters() -> tuple[str | None, AgingOrder, int, dict[str, str]]:
    """Segment, sort and page number from the query string; errors in French, per field."""
    errors: dict[str, str] = {}
    segment = request.args.get("segment", "").strip() or None
    try:
        order = parse_order(request.args.get("tri"))
    except ValidationFailed as failed:
        order = AgingOrder.TOTAL
        errors["tri"] = failed.errors["order"]
    raw_page = request.args.get("page", "1").strip() or "1"
    page = parse_id(raw_page) or 0
    if page < 1:
        errors["page"] = (
            f"Numéro de page invalide : « {raw_page} ». Indiquez un entier à partir de 1."
        )
        page = 1
    return segment, order, page, errors


@bp.get("/balance-agee")
def aged_balance_page():
    """The aged balance: totals, one page of debtors, segment filter and sort (htmx refresh)."""
    session = db()
    as_of = _today()
    segment, order, page, errors = _aging_filters()
    balance = aged_balance(
        session,
        as_of=as_of,
        segment=segment,
        order=order,
        limit=AGING_PAGE_SIZE,
        offset=(page - 1) * AGING_PAGE_SIZE,
    )
    context = {
        "balance": balance,
        "page": page,
        "pages": max(1, math.ceil(balance.totals.debtors / AGING_PAGE_SIZE)),
        "segments": segments(session),
        "order_labels": ORDER_LABELS,
        "amount_columns": AMOUNT_COLUMNS,
        "segment_label": segment_label,
        "errors": errors,
    }
    status = 422 if errors else 200
    if htmx:
        return render_template("supervisor/_aged_balance.html", **context), status
    indicator = dso(session, as_of=as_of)
    return render_template("supervisor/aged_balance.html", dso=indicator, **context), status


def _export_request() -> tuple[Engine, date, str | None, AgingOrder, dict[str, str]]:
    segment, order, _page, errors = _aging_filters()
    return read_only(state().engine), _today(), segment, order, errors


def _export_refused(errors: dict[str, str]):
    message = " ".join(errors.values())
    return render_template(
        "errors/error.html", code=422, title="Export impossible", message=message
    ), 422


def _export_name(as_of: date, segment: str | None, extension: str) -> str:
    suffix = "-" + re.sub(r"[^A-Za-z0-9_-]", "_", segment) if segment else ""
    return f"balance-agee-{as_of.isoformat()}{suffix}.{extension}"


def spreadsheet_text(value: str) -> str:
    """Text a spreadsheet must not run as a formula (``=``, ``+``, ``-``, ``@`` …): quoted."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def euros_fr(cents: int) -> str:
    """``-123456`` → ``-1234,56``: euros with two decimals and a decimal comma, no grouping."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole},{rest:02d}"


def _amount_values(amounts: AgingAmounts) -> list[int]:
    return [getattr(amounts, name) for name, _ in AMOUNT_COLUMNS]


def csv_export_lines(
    engine: Engine, as_of: date, segment: str | None, order: AgingOrder
) -> Iterator[str]:
    """The CSV, a few hundred lines at a time; the totals line sums the lines streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield "\ufeff"
    writer.writerow(EXPORT_HEADERS)
    tally = AgingTally()
    with Session(engine) as session:
        rows = iter_aged_balance(session, as_of=as_of, segment=segment, order=order)
        for number, row in enumerate(map(tally.add, rows), 1):
            writer.writerow(
                [
                    spreadsheet_text(row.account_code),
                    spreadsheet_text(row.name),
                    spreadsheet_text(segment_label(row.segment)),
                    *(euros_fr(cents) for cents in _amount_values(row.amounts)),
                    euros_fr(row.credit_cents),
                ]
            )
            if number % 500 == 0:
                yield flush()
    totals = tally.totals()
    writer.writerow(
        [
            "Total",
            formatting.quantity(totals.debtors, "débiteur"),
            spreadsheet_text(segment_label(segment)) if segment else "Tous",
            *(euros_fr(cents) for cents in _amount_values(totals.amounts)),
            euros_fr(totals.credit_cents),
        ]
    )
    yield flush()


@bp.get("/balance-agee.csv")
def aged_balance_csv():
    """CSV export in the French convention (``;``, decimal comma, UTF-8 with BOM), streamed."""
    engine, as_of, segment, order, errors = _export_request()
    if errors:
        return _export_refused(errors)
    response = Response(csv_export_lines(engine, as_of, segment, order), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{_export_name(as_of, segment, "csv")}"'
    )
    return response


def _money_cells(sheet, cents_values: list[int], font: Font | None = None) -> list[WriteOnlyCell]:
    cells = []
    for cents in cents_values:
        cell = WriteOnlyCell(sheet, value=Decimal(cents) / 100)
        cell.number_format = XLSX_MONEY_FORMAT
        if font is not None:
            cell.font = font
        cells.append(cell)
    return cells


def write_xlsx_export(
    output, engine: Engine, as_of: date, segment: str | None, order: AgingOrder
) -> None:
    """A write-only workbook: each row goes to disk as it is appended, never all in memory."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Balance âgée")
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJK", (14, 40, 14, *([15] * 8)), strict=True):
        sheet.column_dimensions[letter].width = width
    bold = Font(bold=True)

    def texts(values, font: Font | None = None) -> list[WriteOnlyCell]:
        """String cells, never formulas, whatever the text starts with."""
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            if font is not None:
                cell.font = font
            cells.append(cell)
        return cells

    sheet.append(texts(EXPORT_HEADERS, bold))
    tally = AgingTally()
    with Session(engine) as session:
        rows = iter_aged_balance(session, as_of=as_of, segment=segment, order=order)
        for row in map(tally.add, rows):
            sheet.append(
                [
                    *texts([row.account_code, row.name, segment_label(row.segment)]),
                    *_money_cells(sheet, [*_amount_values(row.amounts), row.credit_cents]),
                ]
            )
    totals = tally.totals()
    scope = segment_label(segment) if segment else "Tous"
    money = _money_cells(sheet, [*_amount_values(totals.amounts), totals.credit_cents], bold)
    count = formatting.quantity(totals.debtors, "débiteur")
    sheet.append([*texts(["Total", count, scope], bold), *money])
    workbook.save(output)


def _xlsx_chunks(
    engine: Engine, as_of: date, segment: str | None, order: AgingOrder
) -> Iterator[bytes]:
    """The workbook, built in a temporary file when the download starts, then sent by chunks."""
    with tempfile.TemporaryFile() as output:
        write_xlsx_export(output, engine, as_of, segment, order)
        output.seek(0)
        while chunk := output.read(XLSX_CHUNK_BYTES):
            yield chunk


@bp.get("/balance-agee.xlsx")
def aged_balance_xlsx():
    """XLSX export: amounts are numbers formatted ``#,##0.00 €``, a header and a totals row."""
    engine, as_of, segment, order, errors = _export_request()
    if errors:
        return _export_refused(errors)
    response = Response(_xlsx_chunks(engine, as_of, segment, order), mimetype=XLSX_MIME)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{_export_name(as_of, segment, "xlsx")}"'
    )
    return response


# --- Exports of calls, promises and disputes for a chosen period ------------------------------

PERIOD_EXPORTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "appels": (
        "Appels",
        (
            ("Date", "moment"),
            ("Code compte", "text"),
            ("Débiteur", "text"),
            ("Chargé", "text"),
            ("Numéro appelé", "text"),
            ("Statut", "call_status"),
            ("Durée (s)", "int"),
            ("Issue", "text"),
            ("Motif de non-paiement", "text"),
            ("Notes", "text"),
        ),
    ),
    "promesses": (
        "Promesses",
        (
            ("Date", "moment"),
            ("Code compte", "text"),
            ("Débiteur", "text"),
            ("Chargé", "text"),
            ("Montant promis", "money"),
            ("Date promise", "date"),
            ("Payé", "money"),
            ("Statut", "promise_status"),
        ),
    ),
    "litiges": (
        "Litiges",
        (
            ("Date", "moment"),
            ("Code compte", "text"),
            ("Débiteur", "text"),
            ("Ouvert par", "text"),
            ("Catégorie", "text"),
            ("Description", "text"),
            ("Statut", "dispute_status"),
            ("Résolu le", "moment"),
            ("Résolution", "text"),
        ),
    ),
}
MAX_EXPORT_DAYS = 366


def _export_period() -> tuple[date, date, dict[str, str]]:
    """« du » and « au » (inclusive, jj/mm/aaaa or aaaa-mm-jj); the last 30 days by default."""
    today = _today()
    errors: dict[str, str] = {}
    values = []
    for name, label, default in (
        ("du", "de début", today - timedelta(days=29)),
        ("au", "de fin", today),
    ):
        raw = request.args.get(name, "").strip()
        value = default
        if raw:
            value = None
            for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
                try:
                    value = datetime.strptime(raw, pattern).date()
                    break
                except ValueError:
                    continue
            if value is None:
                errors[name] = f"Date {label} invalide : « {raw} » (jj/mm/aaaa)."
                value = default
        values.append(value)
    start, end = values
    if not errors and start > end:
        errors["au"] = "La date de fin précède la date de début."
    elif not errors and (end - start).days >= MAX_EXPORT_DAYS:
        errors["au"] = f"La période ne peut pas dépasser {MAX_EXPORT_DAYS} jours."
    return start, end, errors


def _plain(kind: str, value, zone: ZoneInfo) -> str:
    """A value as text: French dates and decimal comma, statuses in French."""
    if value is None:
        return ""
    if kind == "moment":
        return formatting.moment(value, zone)
    if kind == "date":
        return formatting.day(value, zone)
    if kind == "money":
        return euros_fr(int(value))
    if kind == "int":
        return str(value)
    if kind == "call_status":
        return STATUS_LABELS.get(value, value)
    if kind == "promise_status":
        return PROMISE_STATUS_LABELS.get(value, value)
    if kind == "dispute_status":
        return DISPUTE_STATUS_LABELS.get(value, value)
    return str(value)


def period_csv_lines(
    engine: Engine, kind: str, start: datetime, end: datetime, zone: ZoneInfo
) -> Iterator[str]:
    _title, columns = PERIOD_EXPORTS[kind]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    yield "\ufeff"
    writer.writerow([header for header, _ in columns])
    with Session(engine) as session:
        for number, row in enumerate(export_rows(session, kind=kind, start=start, end=end), 1):
            writer.writerow(
                [
                    spreadsheet_text(_plain(k, v, zone))
                    for (_h, k), v in zip(columns, row, strict=True)
                ]
            )
            if number % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def write_period_xlsx(
    output, engine: Engine, kind: str, start: datetime, end: datetime, zone: ZoneInfo
) -> None:
    """Write-only workbook: money as numbers (``#,##0.00 €``), dates as dates, text as text."""
    title, columns = PERIOD_EXPORTS[kind]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def cell(kind_: str, value):
        if kind_ == "money" and value is not None:
            return _money_cells(sheet, [int(value)])[0]
        if kind_ == "moment" and value is not None:
            item = WriteOnlyCell(sheet, value=value.astimezone(zone).replace(tzinfo=None))
            item.number_format = "dd/mm/yyyy hh:mm"
            return item
        if kind_ == "date" and value is not None:
            item = WriteOnlyCell(sheet, value=value)
            item.number_format = "dd/mm/yyyy"
            return item
        if kind_ == "int":
            return WriteOnlyCell(sheet, value=value)
        item = WriteOnlyCell(sheet, value=_plain(kind_, value, zone))
        item.data_type = "s"
        return item

    header = []
    for name, _kind in columns:
        item = WriteOnlyCell(sheet, value=name)
        item.font = bold
        header.append(item)
    sheet.append(header)
    with Session(engine) as session:
        for row in export_rows(session, kind=kind, start=start, end=end):
            sheet.append([cell(k, v) for (_h, k), v in zip(columns, row, strict=True)])
    workbook.save(output)


def _period_xlsx_chunks(engine: Engine, kind: str, start: datetime, end: datetime, zone: ZoneInfo):
    with tempfile.TemporaryFile() as output:
        write_period_xlsx(output, engine, kind, start, end, zone)
        output.seek(0)
        while chunk := output.read(XLSX_CHUNK_BYTES):
            yield chunk


@bp.get("/exports")
def exports():
    start, end, errors = _export_period()
    return render_template(
        "supervisor/exports.html", start=start, end=end, errors=errors, kinds=PERIOD_EXPORTS
    )


@bp.get("/exports/<kind>.<extension>")
def period_export(kind: str, extension: str):
    """Calls, promises or disputes created in the chosen period, as CSV (``;``, BOM) or XLSX."""
    if kind not in PERIOD_EXPORTS or extension not in ("csv", "xlsx"):
        abort(404)
    start, end, errors = _export_period()
    if errors:
        return _export_refused(errors)
    engine = read_only(state().engine)
    since, until = clock().utc_bounds(start, end)
    name = f"{kind}-{start.isoformat()}-{end.isoformat()}.{extension}"
    if extension == "csv":
        response = Response(
            period_csv_lines(engine, kind, since, until, clock().zone), mimetype="text/csv"
        )
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
    else:
        chunks = _period_xlsx_chunks(engine, kind, since, until, clock().zone)
        response = Response(chunks, mimetype=XLSX_MIME)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


AUDIT_CSV_HEADERS = ("Date", "Personne", "Action", "Code compte", "Débiteur", "Détail")
MAX_DEBTOR_FILTER = 100


def _audit_filters() -> tuple[AuditFilters, dict[str, str]]:
    """« personne », « debiteur » (code or part of the name) and « jour » from the query."""
    errors: dict[str, str] = {}
    person_text = request.args.get("personne", "").strip()
    person_id = parse_id(person_text)
    if person_text and person_id is None:
        errors["personne"] = "Personne inconnue."
    debtor = request.args.get("debiteur", "").strip()
    if len(debtor) > MAX_DEBTOR_FILTER:
        errors["debiteur"] = f"Le débiteur ne doit pas dépasser {MAX_DEBTOR_FILTER} caractères."
        debtor = ""
    raw_day = request.args.get("jour", "").strip()
    day = None
    if raw_day:
        for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                day = datetime.strptime(raw_day, pattern).date()
                break
            except ValueError:
                continue
        if day is None:
            errors["jour"] = f"Date invalide : « {raw_day} » (jj/mm/aaaa)."
    return AuditFilters(person_id=person_id, debtor=debtor, day=day), errors


@bp.get("/journal")
def audit():
    """Every audited action, newest first: filter by person, debtor and day; export as CSV."""
    session = db()
    filters, errors = _audit_filters()
    page = parse_id(request.args.get("page")) or 1
    entries, has_more = audit_page(session, filters=filters, zone=clock().zone, page=page)
    query = {
        key: value
        for key, value in (
            ("personne", filters.person_id),
            ("debiteur", filters.debtor),
            ("jour", filters.day.isoformat() if filters.day else ""),
        )
        if value
    }
    context = {
        "entries": entries,
        "has_more": has_more,
        "page": page,
        "filters": filters,
        "query": query,
        "errors": errors,
        "people": audit_people(session),
    }
    template = "supervisor/_audit.html" if htmx else "supervisor/audit.html"
    return render_template(template, **context), 422 if errors else 200


def audit_csv_lines(engine: Engine, filters: AuditFilters, zone: ZoneInfo) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    yield "\ufeff"
    writer.writerow(AUDIT_CSV_HEADERS)
    with Session(engine) as session:
        for number, entry in enumerate(iter_audit_entries(session, filters=filters, zone=zone), 1):
            writer.writerow(
                [
                    formatting.moment(entry.at, zone),
                    spreadsheet_text(entry.person),
                    entry.action,
                    spreadsheet_text(entry.account_code),
                    spreadsheet_text(entry.debtor_name),
                    spreadsheet_text(entry.detail),
                ]
            )
            if number % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


@bp.get("/journal.csv")
def audit_csv():
    """The audit log with the page's filters, as CSV (``;``, UTF-8 with BOM), streamed."""
    filters, errors = _audit_filters()
    if errors:
        return _export_refused(errors)
    engine = read_only(state().engine)
    response = Response(audit_csv_lines(engine, filters, clock().zone), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="journal-des-actions.csv"'
    return response
