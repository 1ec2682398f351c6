"""The FEC (Fichier des Écritures Comptables, article A47 A-1 du LPF) as a source of debtors,
invoices and payments.

Only customer entries count: accounts ``411*`` carrying an auxiliary account. ``CompAuxNum`` /
``CompAuxLib`` give the debtor; debit lines give the invoices (dated by ``PieceDate``), one
per ``PieceRef`` when each piece reference belongs to a single entry, else one per sales entry
(journal, entry number and date) and debtor — the report says which; every credit line is a
payment (a credit note — « avoir » — when it comes from a sales journal) dated by
``EcritureDate`` and known by its journal, entry number, line within the entry and account, so
that a corrected re-export updates it. Lettering (``EcritureLet``) ties payments to invoices:
a payment pays first the invoices lettered with the same code on the same account (codes are
reused across customers), then the oldest open ones. The FEC has no
due date: a new invoice is due at its date plus the debtor's payment terms. 411 lines without
an auxiliary account cannot name a debtor: they are reported and skipped.

Some ledgers (shops, cash-basis « comptabilité de trésorerie » FECs with the extra columns
``DateRglt``, ``ModeRglt``, ``NatOp``, ``IdClient``) use 411 sub-accounts for means of payment
(« RECETTE CB », « Clients espèces »): those are takings, never a debtor. Such a line (or a 411
line without auxiliary account) belongs to the customer named by ``IdClient`` when the file
gives one; otherwise it is skipped and the report says how many lines and how much money could
not be attributed.

Read as a ledger: a line with fewer columns than the header needs is refused with its line
(never padded and read); every entry (journal and entry number) is summed and one whose debits
differ from its credits is reported with its first line. A credit that finds no invoice (an
opening credit balance, an unlettered credit note) is the customer's credit.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import update
from sqlmodel import Session, select

from callcenter.domain.imports import values as v
from callcenter.domain.imports.columns import normalise_header
from callcenter.domain.imports.entities import (
    LIMITS,
    DebtorRow,
    PaymentRow,
    debtor_ids,
    upsert_debtors,
)
from callcenter.domain.imports.report import ImportReport
from callcenter.domain.imports.sources import Table
from callcenter.domain.imports.staging import InvoiceStage
from callcenter.domain.imports.tabular import Progress, apply_payments, spend_credit
from callcenter.formatting import money, quantity
from callcenter.models import Payment

FEC_COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
AMOUNT_COLUMNS = ("Debit", "Credit")
SIGNED_COLUMNS = ("Montant", "Sens")
SALES_JOURNALS = frozenset({"VE", "VT", "VTE", "VEN", "VENT", "VENTE", "VENTES"})
CUSTOMER_ACCOUNT_PREFIX = "411"
MAX_NUMBER = LIMITS["invoices"]["number"]
CLIENT_ID_COLUMN = "IdClient"
# Words naming a means of payment, and the generic words that may surround them in the label of
# a 411 sub-account (« RECETTE CB », « CLIENTS ESPECES », « Règlements par carte bancaire »).
PAYMENT_WORDS = frozenset(
    {
        *("CB", "CARTE", "CARTES", "TPE", "CHQ", "CHQS", "CHEQUE", "CHEQUES", "ANCV"),
        *("TICKET", "TICKETS", "ESP", "ESPECE", "ESPECES", "LIQUIDE", "LIQUIDES"),
        *("NUMERAIRE", "NUMERAIRES", "CAISSE", "VIR", "VIRT", "VIREMENT", "VIREMENTS"),
        *("PRLV", "PRELEVEMENT", "PRELEVEMENTS", "SEPA", "AMEX", "VISA", "MASTERCARD"),
        *("PAYPAL", "STRIPE", "SUMUP", "LYDIA"),
    }
)
PAYMENT_FILLER_WORDS = frozenset(
    {
        *("RECETTE", "RECETTES", "CLIENT", "CLIENTS", "VENTE", "VENTES", "COMPTANT"),
        *("REGLEMENT", "REGLEMENTS", "RGLT", "ENCAISSEMENT", "ENCAISSEMENTS", "REMISE"),
        *("REMISES", "REM", "BANCAIRE", "BANCAIRES", "BLEUE", "CREDIT", "VACANCES"),
        *("RESTAURANT", "TITRE", "TITRES", "PAR", "EN", "DE", "DES", "DU", "ET", "A"),
    }
)


@dataclass
class _Invoice:
    account: str
    piece: str
    line: int
    issue: date
    amount: int = 0
    letters: set[str] = field(default_factory=set)


@dataclass
class _Debit:
    """A customer debit line: part of an invoice (or of an opening balance)."""

    line: int
    account: str
    piece: str
    entry: tuple[str, str, date]
    issue: date
    amount: int
    letter: str


@dataclass
class _Unattributed:
    """411 lines on means-of-payment sub-accounts that no ``IdClient`` attributes."""

    lines: Counter[tuple[str, str]] = field(default_factory=Counter)
    debit: int = 0
    credit: int = 0

    def note(self, has_client_column: bool) -> str:
        accounts = ", ".join(
            f"{_sub_account(account, label)} ({count})"
            for (account, label), count in sorted(self.lines.items())
        )
        why = (
            "la colonne IdClient, vide sur ces écritures,"
            if has_client_column
            else "le fichier, sans colonne IdClient,"
        )
        total = sum(self.lines.values())
        return (
            quantity(
                total,
                "écriture client non attribuable, ignorée",
                "écritures client non attribuables, ignorées",
            )
            + " : les sous-comptes 411 "
            f"{accounts} sont des moyens de paiement (recettes encaissées), pas des clients, et "
            f"{why} ne permet pas de retrouver le client. Aucun débiteur n'est créé pour eux. "
            f"Montants non attribués : {money(self.debit)} au débit (ventes), "
            f"{money(self.credit)} au crédit (règlements)."
        )


def _sub_account(account: str, label: str) -> str:
    return f"{account} « {label} »" if label else account


def is_payment_type(label: str) -> bool:
    """A 411 sub-account whose label names only a means of payment (« RECETTE CB », « Carte
    bancaire », « Clients espèces ») collects takings: it is not a customer."""
    text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().upper()
    words = re.findall(r"[A-Z0-9]+", text)
    return any(word in PAYMENT_WORDS for word in words) and all(
        word in PAYMENT_WORDS or word in PAYMENT_FILLER_WORDS for word in words
    )


@dataclass
class _Credit:
    line: int
    account: str
    journal: str
    sales: bool
    paid_on: date
    amount: int
    letter: str
    identity: tuple[str, str, int, str]
    content: str
    legacy: str


MAX_LISTED = 20
IDENTITY_END = len("FEC-") + 20 + 1  # the reference's identity digest and its dash


class _Entries:
    """Debits and credits of each entry (journal and entry number): an entry that does not
    balance means a cut or altered file, which the report says with its line. Not grouped by
    date: cash-basis FECs number every entry 0, and their entries still balance per journal."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, str], list[int]] = {}

    def add(self, line: int, journal: str, number: str, amount: int) -> None:
        total = self.totals.get((journal, number))
        if total is None:
            total = self.totals[(journal, number)] = [line, 0, 0]
        total[1 if amount > 0 else 2] += abs(amount)

    def check(self, report: ImportReport) -> None:
        """A note per unbalanced entry (the first ``MAX_LISTED``), naming its first line."""
        unbalanced = [
            (line, journal, number, debit, credit)
            for (journal, number), (line, debit, credit) in self.totals.items()
            if debit != credit
        ]
        if not unbalanced:
            return
        report.notes.append(
            "Attention : "
            + quantity(len(unbalanced), "écriture déséquilibrée", "écritures déséquilibrées")
            + " (débits différents des crédits). Un FEC ne contient que des écritures "
            "équilibrées : le fichier est peut-être incomplet ou modifié ; vérifiez-le avec "
            "votre expert-comptable."
        )
        for line, journal, number, debit, credit in sorted(unbalanced)[:MAX_LISTED]:
            report.notes.append(
                f"Ligne {line} : écriture déséquilibrée (journal {journal}, écriture "
                f"n° {number.strip()}) : {money(debit)} au débit, {money(credit)} au crédit, "
                f"écart de {money(abs(debit - credit))}."
            )
        if len(unbalanced) > MAX_LISTED:
            report.notes.append(f"… et {quantity(len(unbalanced) - MAX_LISTED, 'autre')}.")


def import_fec(
    session: Session,
    *,
    table: Table,
    report: ImportReport,
    now: datetime,
    actor_id: int | None,
    default_terms: int,
    progress: Progress | None = None,
    years: tuple[int, int] | None = None,
) -> None:
    index = {normalise_header(title): position for position, title in enumerate(table.header)}
    wanted = [name for name in FEC_COLUMNS if name not in AMOUNT_COLUMNS]
    signed = all(normalise_header(n) in index for n in SIGNED_COLUMNS) and not all(
        normalise_header(n) in index for n in AMOUNT_COLUMNS
    )
    wanted += list(SIGNED_COLUMNS if signed else AMOUNT_COLUMNS)
    missing = [name for name in wanted if normalise_header(name) not in index]
    report.notes.append(f"Fichier lu : {table.description}.")
    if missing:
        report.error(
            table.header_line,
            None,
            "Ce fichier n'est pas un FEC : "
            + (
                "colonne obligatoire absente : "
                if len(missing) == 1
                else "colonnes obligatoires absentes : "
            )
            + ", ".join(missing)
            + ".",
        )
        return
    col = {name: index[normalise_header(name)] for name in wanted}
    client_col = index.get(normalise_header(CLIENT_ID_COLUMN))
    if client_col is not None:
        col[CLIENT_ID_COLUMN] = client_col
    extra = [
        t
        for t in table.header
        if t and normalise_header(t) not in {normalise_header(n) for n in col}
    ]
    if extra:
        report.notes.append(f"Colonnes supplémentaires ignorées : {', '.join(extra)}.")
    width = max(col.values()) + 1
    declared = len(table.header)
    while declared and not table.header[declared - 1]:
        declared -= 1
    entries = _Entries()

    names: dict[str, tuple[int, str]] = {}
    by_client_id: dict[str, int] = {}
    unattributed = _Unattributed()
    no_client_id = "IdClient est vide" if client_col is not None else "aucune colonne IdClient"
    debits: list[_Debit] = []
    credits: list[_Credit] = []
    occurrences: Counter[str] = Counter()
    lines_in_entry: Counter[tuple[str, str]] = Counter()
    customer_lines = 0
    for count, (line, cells) in enumerate(table.rows, start=1):
        report.rows = count
        if progress and count % 5_000 == 0:
            progress(*table.progress())
        if len(cells) < width:
            report.error(
                line,
                None,
                f"Ligne incomplète : {quantity(len(cells), 'colonne lue', 'colonnes lues')}, "
                f"{quantity(declared, 'attendue')} "
                "d'après l'en-tête (ligne coupée ou séparateur manquant).",
            )
            continue
        amount = _amount(report, line, cells, col, signed)
        entry = (cells[col["JournalCode"]].strip(), cells[col["EcritureNum"]].strip())
        lines_in_entry[entry] += 1
        if amount is not None:
            entries.add(line, *entry, amount)
        account_number = cells[col["CompteNum"]].strip()
        if not account_number.startswith(CUSTOMER_ACCOUNT_PREFIX):
            continue
        account = cells[col["CompAuxNum"]].strip()
        label = cells[col["CompAuxLib"]].strip()
        payment_type = bool(account) and is_payment_type(label or account)
        client_id = cells[client_col].strip() if client_col is not None else ""
        account_column = "CompAuxNum"
        if (payment_type or not account) and client_id:
            by_client_id.setdefault(client_id, line)
            account, label = client_id, ""
            account_column = CLIENT_ID_COLUMN
        elif payment_type:
            amount = amount or 0
            unattributed.lines[(account, label)] += 1
            unattributed.debit += max(amount, 0)
            unattributed.credit += max(-amount, 0)
            report.skip(
                line,
                CLIENT_ID_COLUMN if client_col is not None else "CompAuxNum",
                f"Sous-compte client {_sub_account(account, label)} : un moyen de paiement, "
                f"pas un client, et {no_client_id} : écriture non attribuable à un client, "
                "ignorée.",
            )
            continue
        elif not account:
            report.skip(
                line,
                "CompAuxNum",
                f"Écriture sur le compte client {account_number} sans compte auxiliaire "
                "(CompAuxNum) : aucun débiteur identifiable, ligne ignorée.",
            )
            continue
        customer_lines += 1
        too_long = [
            (column, message)
            for column, text, limit in (
                (account_column, account, LIMITS["debtors"]["account_code"]),
                ("CompAuxLib", label, LIMITS["debtors"]["name"]),
            )
            if (message := _too_long(text, limit))
        ]
        for column, message in too_long:
            report.error(line, column, message)
        if too_long:
            continue
        journal = cells[col["JournalCode"]].strip()
        sales = (
            journal.upper() in SALES_JOURNALS or "VENTE" in cells[col["JournalLib"]].strip().upper()
        )
        entry_date = _date(report, line, cells[col["EcritureDate"]], "EcritureDate", years)
        piece_text = cells[col["PieceDate"]].strip()
        piece_date = (
            _date(report, line, piece_text, "PieceDate", years) if piece_text else entry_date
        )
        if amount is None or entry_date is None or piece_date is None:
            continue
        if label or account not in by_client_id:
            names.setdefault(account, (line, label or account))
        piece = " ".join(cells[col["PieceRef"]].split())
        letter = cells[col["EcritureLet"]].strip()
        if amount > 0:
            debits.append(
                _Debit(line, account, piece, (*entry, entry_date), piece_date, amount, letter)
            )
        elif amount < 0:
            text = cells[col["EcritureLib"]].strip()
            legacy = "|".join((journal, entry_date.isoformat(), account, piece, str(-amount), text))
            occurrences[legacy] += 1
            credits.append(
                _Credit(
                    line,
                    account,
                    journal,
                    sales,
                    entry_date,
                    -amount,
                    letter,
                    identity=(*entry, lines_in_entry[entry], account),
                    content="|".join((entry_date.isoformat(), str(-amount), piece, text, letter)),
                    legacy=f"{legacy}|{occurrences[legacy]}",
                )
            )
    entries.check(report)
    invoices, numbers = _group_invoices(debits, report)
    for invoice in invoices.values():
        if invoice.amount > v.MAX_CENTS:
            report.error(
                invoice.line,
                "Debit",
                f"Facture « {invoice.piece} » du client « {invoice.account} » trop élevée : "
                f"ses lignes au débit totalisent {money(invoice.amount)}, au plus "
                f"{money(v.MAX_CENTS)} par facture.",
            )
    if not report.ok:
        return
    if unattributed.lines:
        report.notes.append(unattributed.note(client_col is not None))
    elif not customer_lines:
        report.notes.append(
            "Aucune écriture client (compte 411 avec compte auxiliaire) dans ce FEC."
        )
    if by_client_id:
        report.notes.append(
            quantity(len(by_client_id), "client identifié", "clients identifiés")
            + " par la colonne IdClient (écritures "
            "sur un sous-compte 411 de moyen de paiement ou sans compte auxiliaire)."
        )
        _name_client_ids(session, names, by_client_id)
    if invoices:
        report.notes.append(
            "Le FEC ne contient pas d'échéance : l'échéance d'une nouvelle facture est sa date "
            f"de pièce plus le délai de paiement du débiteur ({default_terms} jours pour un "
            "nouveau débiteur)."
        )
    report.counts["debtors"] = upsert_debtors(
        session,
        [DebtorRow(line, account, name) for account, (line, name) in names.items()],
        default_terms=default_terms,
        actor_id=actor_id,
        source=report.source,
        now=now,
    )
    stage = InvoiceStage(session, dry_run=report.dry_run)
    stage.add(
        [
            (
                inv.line,
                numbers[key],
                inv.account,
                inv.issue.isoformat(),
                None,
                inv.amount,
                None,
                "EUR",
            )
            for key, inv in invoices.items()
        ]
    )
    labels = {"number": "PieceRef", "account_code": "CompAuxNum"}
    stage.check(report, labels)
    if not report.ok:
        return
    totals = stage.count()
    report.counts["invoices"] = totals
    stage.record_events(actor_id=actor_id, source=report.source, now=now)
    stage.merge(totals, now=now)
    touched = stage.touched_debtor_ids()
    stage.drop()

    lettered: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key, invoice in sorted(invoices.items(), key=lambda item: item[1].issue):
        for letter in invoice.letters:
            lettered[(invoice.account, letter)].append(numbers[key])
    references = _payment_references(session, credits, report)
    payments = [
        PaymentRow(
            line=credit.line,
            reference=references[credit.line],
            account_code=credit.account,
            paid_on=credit.paid_on,
            amount_cents=credit.amount,
            method="avoir" if credit.sales else "règlement",
            preferred_numbers=lettered.get((credit.account, credit.letter), [])
            if credit.letter
            else [],
        )
        for credit in credits
    ]
    ids = debtor_ids(session, names)
    apply_payments(session, payments, ids=ids, report=report, actor_id=actor_id, now=now)
    spend_credit(session, touched, report=report, now=now)
    if progress:
        progress(*table.progress())


def _digest(text: str, size: int) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:size]


def _payment_references(
    session: Session, credits: list[_Credit], report: ImportReport
) -> dict[int, str]:
    """Each credit line's payment reference: ``FEC-`` + a digest of what the format guarantees
    to identify the line (journal, entry number, line within the entry, account) + a digest of
    its content (date, amount, piece, label, lettering). A line already imported whose content
    changed (a corrected re-export) keeps its payment: the stored reference is renamed to the
    new one, so the payment is updated, never added twice, and the report names the line.
    Payments stored before this scheme (a digest of journal, date, account, piece, amount and
    label) are recognised the same way."""
    wanted = {
        credit.line: "-".join(
            ("FEC", _digest("|".join(map(str, credit.identity)), 20), _digest(credit.content, 8))
        )
        for credit in credits
    }
    legacy = {"FEC-" + _digest(credit.legacy, 24): wanted[credit.line] for credit in credits}
    prefixes = {reference[:IDENTITY_END]: reference for reference in wanted.values()}
    by_target = {wanted[credit.line]: credit for credit in credits}
    stored = dict(
        session.exec(
            select(Payment.reference, Payment.id).where(Payment.reference.startswith("FEC-"))
        ).all()
    )
    renames = []
    changed = []
    taken: set[str] = set()
    for reference, payment_id in stored.items():
        target = legacy.get(reference) or prefixes.get(reference[:IDENTITY_END])
        if target is None or target == reference or target in stored or target in taken:
            continue
        taken.add(target)
        renames.append({"id": payment_id, "reference": target})
        if reference not in legacy:
            changed.append(by_target[target])
    if renames:
        session.execute(update(Payment), renames)
    for credit in sorted(changed, key=lambda credit: credit.line)[:MAX_LISTED]:
        journal, number, rank, _account = credit.identity
        report.notes.append(
            f"Ligne {credit.line} : contenu modifié depuis le dernier import (journal "
            f"{journal}, écriture n° {number}, ligne {rank} de l'écriture) : le règlement "
            "déjà importé est mis à jour, il n'est pas ajouté une seconde fois."
        )
    if len(changed) > MAX_LISTED:
        rest = quantity(
            len(changed) - MAX_LISTED, "autre ligne modifiée", "autres lignes modifiées"
        )
        report.notes.append(f"… et {rest}.")
    return wanted


def _amount(
    report: ImportReport,
    line: int,
    cells: list[str],
    col: dict[str, int],
    signed: bool,
):
    """Debit minus credit, in cents (``Montant`` + ``Sens`` in the signed variant)."""
    try:
        if signed:
            value = v.cents(cells[col["Montant"]] or "0", allow_negative=True)
            sense = cells[col["Sens"]].strip().upper()
            if sense not in ("D", "C", "+1", "-1", "1"):
                report.error(line, "Sens", f"Sens « {sense} » invalide : attendu D ou C.")
                return None
            return value if sense in ("D", "+1", "1") else -value
        debit = v.cents(cells[col["Debit"]] or "0", allow_negative=True)
        credit = v.cents(cells[col["Credit"]] or "0", allow_negative=True)
        return debit - credit
    except v.BadValue as bad:
        report.error(line, "Debit/Credit", bad.message)
        return None


def _too_long(text: str, limit: int) -> str | None:
    try:
        v.bounded(text, limit)
    except v.BadValue as bad:
        return bad.message
    return None


def _name_client_ids(
    session: Session, names: dict[str, tuple[int, str]], by_client_id: dict[str, int]
) -> None:
    """A customer known only by ``IdClient`` takes the label of the file's sub-account with the
    same code, else keeps the name already stored, else is named by the code itself."""
    unnamed = {code: line for code, line in by_client_id.items() if code not in names}
    stored = debtor_ids(session, unnamed)
    for code, line in unnamed.items():
        names[code] = (line, "" if code in stored else code)


def _date(
    report: ImportReport, line: int, raw: str, column: str, years: tuple[int, int] | None
) -> date | None:
    try:
        return v.parse_date(raw.strip(), years=years)
    except v.BadValue as bad:
        report.error(line, column, bad.message)
        return None


def _group_invoices(
    debits: list[_Debit], report: ImportReport
) -> tuple[dict[tuple, _Invoice], dict[tuple, str]]:
    """The invoices of the customer debit lines and their numbers, by a rule the report
    states: a ``PieceRef`` that belongs to a single entry (journal, entry number and date) is
    an invoice number, one invoice; one that comes back in several entries (a monthly
    reference « 01/2022 », « FAE »…) is not, and each of its entries is one invoice per
    customer, dated by its piece date — so a month's invoices are never merged and their aging
    never moves. Decided per piece, not per file, so that one recurring reference does not
    renumber the file's other invoices."""
    entries_of: dict[str, set[tuple[str, str, date]]] = defaultdict(set)
    for debit in debits:
        entries_of[debit.piece].add(debit.entry)
    shared = sorted(
        (piece for piece, found in entries_of.items() if len(found) > 1),
        key=lambda piece: (-len(entries_of[piece]), piece),
    )
    recurring = set(shared)
    invoices: dict[tuple, _Invoice] = {}
    for debit in debits:
        key = (
            (debit.account, *debit.entry)
            if debit.piece in recurring
            else (debit.account, debit.piece)
        )
        invoice = invoices.get(key)
        if invoice is None:
            invoice = invoices[key] = _Invoice(debit.account, debit.piece, debit.line, debit.issue)
        invoice.amount += debit.amount
        invoice.issue = min(invoice.issue, debit.issue)
        if debit.letter:
            invoice.letters.add(debit.letter)
    if not debits:
        return invoices, {}
    if not shared:
        report.notes.append(
            "Factures : une par numéro de pièce (PieceRef), chaque numéro de pièce n'apparaissant "
            "que dans une seule écriture : ce sont des numéros de facture."
        )
        return invoices, _invoice_numbers(invoices)
    examples = ", ".join(
        f"« {piece or 'vide'} » ({len(entries_of[piece])} écritures)" for piece in shared[:3]
    )
    report.notes.append(
        "Factures : une par numéro de pièce (PieceRef) quand il n'apparaît que dans une seule "
        "écriture ; "
        + quantity(len(shared), "numéro de pièce revient", "numéros de pièce reviennent")
        + " dans plusieurs écritures, par "
        f"exemple {examples} : ce ne sont pas des numéros de facture, leurs lignes donnent une "
        "facture par écriture de vente et par client (journal, numéro et date d'écriture), "
        "datée par sa date de pièce et numérotée « pièce · journal numéro »."
    )
    by_piece = {key: invoice for key, invoice in invoices.items() if len(key) == 2}
    by_entry = {key: invoice for key, invoice in invoices.items() if len(key) == 4}
    return invoices, {**_invoice_numbers(by_piece), **_entry_numbers(by_entry)}


def _entry_numbers(invoices: dict[tuple, _Invoice]) -> dict[tuple, str]:
    """« PieceRef · journal n° », with the entry's date when the journal reuses its entry
    numbers (cash-basis FECs number every entry 0) and the account when several customers
    share the entry, so that invoice numbers stay unique and the same at every import."""
    dates: dict[tuple[str, str], set[date]] = defaultdict(set)
    for _account, journal, number, day in invoices:
        dates[(journal, number)].add(day)
    bases: dict[tuple, str] = {}
    for key, invoice in invoices.items():
        _account, journal, number, day = key
        base = f"{invoice.piece or 'sans pièce'} · {journal} {number}".strip()
        if len(dates[(journal, number)]) > 1:
            base += f" du {day:%d/%m/%Y}"
        bases[key] = base
    owners = Counter(bases.values())
    return {
        key: _bounded_number(base if owners[base] == 1 else f"{base} / {invoices[key].account}")
        for key, base in bases.items()
    }


def _bounded_number(number: str) -> str:
    if len(number) > MAX_NUMBER:
        digest = hashlib.sha1(number.encode()).hexdigest()[:8]
        number = f"{number[: MAX_NUMBER - 9]}~{digest}"
    return number


def _invoice_numbers(invoices: dict[tuple, _Invoice]) -> dict[tuple, str]:
    """``PieceRef`` when one debtor uses it; ``PieceRef / account`` when several do (opening
    balances « RAN », monthly summaries…), so that invoice numbers stay unique."""
    owners: dict[str, set[str]] = defaultdict(set)
    for account, piece in invoices:
        owners[piece].add(account)
    numbers = {}
    for account, piece in invoices:
        numbers[(account, piece)] = _bounded_number(
            piece if piece and len(owners[piece]) == 1 else f"{piece or 'sans pièce'} / {account}"
        )
    return numbers
