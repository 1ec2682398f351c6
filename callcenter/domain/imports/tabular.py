"""Debtors, contacts, invoices and payments from a CSV or XLSX table.

Every row is checked and every problem reported with its line and column; nothing is
written unless the whole file is valid. Invoices take the streamed, set-based path of
``staging`` so that a million rows load in seconds with flat memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from callcenter.domain.imports import values as v
from callcenter.domain.imports.allocation import (
    allocate_payments,
    apply_credit,
    release_overpaid,
)
from callcenter.domain.imports.columns import Resolution, resolve
from callcenter.domain.imports.entities import (
    ADDRESS_FIELDS,
    LIMITS,
    ContactRow,
    DebtorRow,
    PaymentRow,
    debtor_ids,
    stored_payments,
    upsert_contacts,
    upsert_debtors,
    upsert_payments,
)
from callcenter.domain.imports.report import ImportReport
from callcenter.domain.imports.sources import Table
from callcenter.domain.imports.staging import InvoiceStage
from callcenter.formatting import money, quantity

BATCH_ROWS = 20_000
Progress = Callable[[int, int], None]
MISSING = "Valeur obligatoire manquante."


class _Context:
    def __init__(
        self,
        session: Session,
        table: Table,
        report: ImportReport,
        resolution: Resolution,
        *,
        limits: dict[str, int],
        now: datetime,
        actor_id: int | None,
        default_terms: int,
        progress: Progress | None,
        years: tuple[int, int] | None,
    ) -> None:
        self.session = session
        self.table = table
        self.report = report
        self.columns = resolution.columns
        self.titles = {name: table.header[index] for name, index in resolution.columns.items()}
        self.now = now
        self.actor_id = actor_id
        self.default_terms = default_terms
        self.progress = progress
        self.years = years
        self.limits = limits

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        columns = list(self.columns.items())
        for count, (line, cells) in enumerate(self.table.rows, start=1):
            self.report.rows += 1
            width = len(cells)
            row = {}
            for name, index in columns:
                value = cells[index] if index < width else None
                if value is None:
                    value = ""
                elif isinstance(value, str):
                    value = value.strip()
                row[name] = value
            if self.progress and count % 1_000 == 0:
                self.progress(*self.table.progress())
            yield line, row

    def error(self, line: int, name: str, message: str) -> None:
        self.report.error(line, self.titles.get(name, name), message)

    def parse_date(self, value: Any) -> date:
        """A date within the import's accepted years."""
        return v.parse_date(value, years=self.years)

    def parse(self, line: int, row: dict[str, Any], name: str, parser, *, required=False):
        value = row.get(name, "")
        if value == "":
            if required:
                self.error(line, name, MISSING)
            return None
        try:
            parsed = parser(value)
            limit = self.limits.get(name)
            if limit is not None and isinstance(parsed, str):
                v.bounded(parsed, limit)
            return parsed
        except v.BadValue as bad:
            self.error(line, name, bad.message)
            return None


def import_table(
    session: Session,
    *,
    kind: str,
    table: Table,
    report: ImportReport,
    explicit: dict[str, str] | None,
    now: datetime,
    actor_id: int | None,
    default_terms: int,
    progress: Progress | None = None,
    years: tuple[int, int] | None = None,
) -> None:
    resolution = resolve(kind, table.header, explicit)
    report.mapping = resolution.used
    report.notes.append(f"Fichier lu : {table.description}.")
    for column, message in resolution.errors:
        report.error(table.header_line, column, message)
    if resolution.errors:
        return
    context = _Context(
        session,
        table,
        report,
        resolution,
        limits=LIMITS[kind],
        now=now,
        actor_id=actor_id,
        default_terms=default_terms,
        progress=progress,
        years=years,
    )
    {
        "debtors": _debtors,
        "contacts": _contacts,
        "invoices": _invoices,
        "payments": _payments,
    }[kind](context)
    if progress:
        progress(*table.progress())


def _french(iso: str) -> str:
    return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}"


def _text(value: Any) -> str:
    return v.clean(value)


def _debtors(context: _Context) -> None:
    report = context.report
    seen: dict[str, DebtorRow] = {}
    for line, row in context.rows():
        account = context.parse(line, row, "account_code", _text, required=True)
        name = context.parse(line, row, "name", _text, required=True)
        siren = context.parse(line, row, "siren", v.siren)
        segment = context.parse(line, row, "segment", _text)
        terms = context.parse(line, row, "payment_terms_days", v.whole_days)
        address = {name: context.parse(line, row, name, _text) for name in ADDRESS_FIELDS}
        if account and account in seen:
            context.error(
                line,
                "account_code",
                f"Débiteur « {account} » en double dans le fichier (déjà ligne "
                f"{seen[account].line}).",
            )
            continue
        if account and name:
            seen[account] = DebtorRow(line, account, name, siren, segment, terms, **address)
    if not report.ok:
        return
    report.counts["debtors"] = upsert_debtors(
        context.session,
        list(seen.values()),
        default_terms=context.default_terms,
        actor_id=context.actor_id,
        source=report.source,
        now=context.now,
    )


def _contacts(context: _Context) -> None:
    report = context.report
    rows: list[ContactRow] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in context.rows():
        account = context.parse(line, row, "account_code", _text, required=True)
        name = context.parse(line, row, "full_name", _text, required=True)
        contact = ContactRow(
            line,
            account or "",
            name or "",
            civility=context.parse(line, row, "civility", v.civility),
            role=context.parse(line, row, "role", _text),
            phone=context.parse(line, row, "phone", v.phone),
            mobile=context.parse(line, row, "mobile", v.phone),
            email=context.parse(line, row, "email", v.email),
            is_billing=context.parse(line, row, "is_billing", v.flag),
        )
        if account and name:
            key = (account, name.casefold())
            if key in seen:
                context.error(
                    line,
                    "full_name",
                    f"Contact « {name} » en double pour ce débiteur (déjà ligne {seen[key]}).",
                )
                continue
            seen[key] = line
            rows.append(contact)
    ids = debtor_ids(context.session, (row.account_code for row in rows))
    for row in rows:
        if row.account_code not in ids:
            context.error(
                row.line,
                "account_code",
                f"Débiteur inconnu « {row.account_code} » : importez d'abord les débiteurs.",
            )
    if not report.ok:
        return
    report.counts["contacts"] = upsert_contacts(
        context.session,
        rows,
        ids=ids,
        actor_id=context.actor_id,
        source=report.source,
        now=context.now,
    )


def _payments(context: _Context) -> None:
    report = context.report
    rows: list[PaymentRow] = []
    seen: dict[str, int] = {}
    for line, row in context.rows():
        reference = context.parse(line, row, "reference", _text, required=True)
        account = context.parse(line, row, "account_code", _text, required=True)
        paid_on = context.parse(line, row, "paid_on", context.parse_date, required=True)
        amount = context.parse(line, row, "amount", v.cents, required=True)
        if amount == 0:
            context.error(line, "amount", "Montant nul : un règlement doit être positif.")
        payment = PaymentRow(
            line,
            reference or "",
            account or "",
            paid_on or date.min,
            amount or 0,
            method=context.parse(line, row, "method", _text),
            invoice_reference=context.parse(line, row, "invoice_reference", _text),
        )
        if reference:
            if reference in seen:
                context.error(
                    line,
                    "reference",
                    f"Règlement « {reference} » en double dans le fichier (déjà ligne "
                    f"{seen[reference]}).",
                )
                continue
            seen[reference] = line
        rows.append(payment)
    ids = debtor_ids(context.session, (row.account_code for row in rows if row.account_code))
    for row in rows:
        if row.account_code and row.account_code not in ids:
            context.error(
                row.line,
                "account_code",
                f"Règlement pour un débiteur inconnu « {row.account_code} ».",
            )
    _reused_references(context, rows)
    if not report.ok:
        return
    apply_payments(
        context.session, rows, ids=ids, report=report, actor_id=context.actor_id, now=context.now
    )


MAX_LISTED = 20


def _reused_references(context: _Context, rows: list[PaymentRow]) -> None:
    """A reference already stored for another debtor is refused (the payment would silently
    move from one customer to the other); for the same debtor with another date or amount,
    the stored payment is corrected and the report lists each one, in case it was in fact a
    new payment under a reused reference."""
    stored = stored_payments(context.session, (row.reference for row in rows if row.reference))
    changed = []
    for row in rows:
        if row.reference not in stored:
            continue
        code, paid_on, amount = stored[row.reference]
        before = f"{paid_on:%d/%m/%Y}, {money(amount)}"
        if row.account_code and code != row.account_code:
            context.error(
                row.line,
                "reference",
                f"Référence « {row.reference} » déjà utilisée par un règlement du débiteur "
                f"« {code} » ({before}) : un règlement ne change pas de débiteur. Donnez une "
                "référence distincte à ce règlement, ou corrigez le code client.",
            )
        elif (paid_on, amount) != (row.paid_on, row.amount_cents) and row.paid_on != date.min:
            changed.append(
                f"Ligne {row.line}, colonne « {context.titles['reference']} » : le règlement "
                f"« {row.reference} » déjà enregistré ({before}) est remplacé par "
                f"{row.paid_on:%d/%m/%Y}, {money(row.amount_cents)} et affecté de nouveau ; "
                "s'il s'agit d'un autre règlement, donnez-lui une référence distincte."
            )
    if changed:
        context.report.notes.append(
            "Attention : "
            + quantity(
                len(changed),
                "référence de règlement déjà enregistrée",
                "références de règlement déjà enregistrées",
            )
            + " avec une autre date ou un autre montant."
        )
        context.report.notes.extend(changed[:MAX_LISTED])
        if len(changed) > MAX_LISTED:
            context.report.notes.append(f"… et {quantity(len(changed) - MAX_LISTED, 'autre')}.")


def apply_payments(
    session: Session,
    rows: list[PaymentRow],
    *,
    ids: dict[str, int],
    report: ImportReport,
    actor_id: int | None,
    now: datetime,
) -> None:
    counts, to_allocate, preferred = upsert_payments(
        session, rows, ids=ids, actor_id=actor_id, source=report.source, now=now
    )
    report.counts["payments"] = counts
    if to_allocate:
        report.allocation = allocate_payments(session, to_allocate, preferred=preferred, now=now)
        credit = report.allocation.get("credit_cents", 0)
        if credit:
            report.notes.append(
                f"{money(credit)} de règlements non affectés à une facture (trop-perçus, "
                "règlements ou avoirs sans facture ouverte), portés au crédit des débiteurs : "
                "ce crédit "
                "réduit leur solde et ira à leurs prochaines factures."
            )


def _invoices(context: _Context) -> None:
    """The fast path: cheap per-row checks in Python, the rest in SQL on the staging table."""
    report = context.report
    columns = context.columns
    titles = context.titles
    if "due_date" not in columns:
        report.notes.append(
            "Pas de colonne « Échéance » : l'échéance des nouvelles factures est la date de "
            "facture plus le délai de paiement du débiteur."
        )
    width_needed = max(columns.values()) + 1
    i_account, i_number = columns["account_code"], columns["number"]
    i_issue, i_amount = columns["issue_date"], columns["amount"]
    i_due, i_open = columns.get("due_date"), columns.get("open_amount")
    i_currency = columns.get("currency")
    stage = InvoiceStage(context.session, dry_run=report.dry_run)
    limits = context.limits
    dates: dict[Any, str] = {}
    batch: list = []
    derived_due = 0
    progress = context.progress
    table = context.table
    count = 0

    def iso(line: int, name: str, raw: str) -> str | None:
        if not raw:
            report.error(line, titles[name], MISSING)
            return None
        try:
            value = context.parse_date(raw).isoformat()
        except v.BadValue as bad:
            report.error(line, titles[name], bad.message)
            return None
        if len(dates) < 50_000:
            dates[raw] = value
        return value

    def amount(line: int, name: str, raw: str) -> int | None:
        if not raw.strip():
            report.error(line, titles[name], MISSING)
            return None
        try:
            return v.cents(raw)
        except v.BadValue as bad:
            report.error(line, titles[name], bad.message)
            return None

    for count, (line, cells) in enumerate(table.rows, start=1):
        if len(cells) < width_needed:
            cells = [*cells, *([""] * (width_needed - len(cells)))]
        number = cells[i_number].strip()
        account = cells[i_account].strip()
        raw_issue = cells[i_issue].strip()
        raw_amount = cells[i_amount]
        if not number:
            report.error(line, titles["number"], MISSING)
        if not account:
            report.error(line, titles["account_code"], MISSING)
        issue = dates.get(raw_issue) or iso(line, "issue_date", raw_issue)
        due = None
        raw_due = cells[i_due].strip() if i_due is not None else ""
        if raw_due:
            due = dates.get(raw_due) or iso(line, "due_date", raw_due)
            if due is not None and issue is not None and due < issue:
                report.error(
                    line,
                    titles["due_date"],
                    f"L'échéance ({_french(due)}) précède la date de facture ({_french(issue)}).",
                )
        else:
            derived_due += 1
        cents = amount(line, "amount", raw_amount)
        open_cents = None
        if i_open is not None and cells[i_open].strip():
            open_cents = amount(line, "open_amount", cells[i_open])
            if open_cents is not None and cents is not None and open_cents > cents:
                report.error(
                    line, titles["open_amount"], "Le reste dû dépasse le montant de la facture."
                )
        currency = "EUR"
        if i_currency is not None and cells[i_currency].strip():
            currency = cells[i_currency].strip().upper()
            if len(currency) != 3 or not currency.isalpha():
                report.error(line, titles["currency"], f"Devise invalide « {currency} ».")
        for name, text in (("number", number), ("account_code", account)):
            if len(text) > limits[name]:
                try:
                    v.bounded(text, limits[name])
                except v.BadValue as bad:
                    report.error(line, titles[name], bad.message)
        if number:
            batch.append((line, number, account, issue, due, cents, open_cents, currency))
        if len(batch) >= BATCH_ROWS:
            stage.add(batch)
            batch = []
            if progress:
                progress(*table.progress())
        elif progress and count % BATCH_ROWS == 0:
            progress(*table.progress())
    report.rows = count
    stage.add(batch)
    stage.check(report, titles)
    if i_due is not None and derived_due:
        report.notes.append(
            quantity(derived_due, "facture sans échéance", "factures sans échéance")
            + " : échéance = date de facture + délai de "
            "paiement du débiteur."
        )
    if not report.ok:
        return
    totals = stage.count()
    report.counts["invoices"] = totals
    stage.record_events(actor_id=context.actor_id, source=report.source, now=context.now)
    stage.merge(totals, now=context.now)
    touched = stage.touched_debtor_ids()
    stage.drop()
    spend_credit(context.session, touched, report=report, now=context.now)


def spend_credit(
    session: Session, debtor_ids: list[int], *, report: ImportReport, now: datetime
) -> None:
    """What payments had paid above an invoice's new, lower amount becomes credit; then the
    credit these debtors have (payments and credit notes left unallocated) pays their open
    invoices, oldest first. The report says how much."""
    released = release_overpaid(session, debtor_ids, now=now)
    if released:
        report.notes.append(
            f"{money(released)} déjà payés au-delà du nouveau montant de factures corrigées "
            "à la baisse : rendus au crédit des débiteurs."
        )
    stats = apply_credit(session, debtor_ids, now=now)
    if stats["credit_cents"]:
        report.notes.append(
            f"Crédit déjà au compte de {quantity(stats['debtors'], 'débiteur')} affecté aux "
            f"factures ouvertes : {money(stats['credit_cents'])} sur "
            f"{quantity(stats['allocations'], 'facture')}, "
            f"dont {quantity(stats['paid_invoices'], 'soldée')}."
        )
