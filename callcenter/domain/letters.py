"""Paper letters: the reminder letter (lettre de relance) and the formal notice (mise en demeure).

The ladder's late rungs, after the emails and the calls. A letter states the creditor and
the debtor (name, SIREN, account code), the open overdue invoices that are neither disputed
nor paused, their total, every earlier reminder (ladder and reminder emails sent, calls with
their outcome, earlier letters), and the mentions of article L441-10 of the Code de
commerce: late-payment penalties at the configured rate, due from the day after the due
date without any reminder being needed, and the fixed indemnity for recovery costs per
invoice. The formal notice gives ``[letters] payment_deadline_days`` days and announces the
transfer to litigation (contentieux). Both say how to pay like every email does (bank details,
payment reference, SEPA QR code, number to call back: ``domain/payment.py``). The HTML is
built here; ``providers.pdf`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlmodel import Session, col, select

from callcenter.config import PROJECT_ROOT, Settings
from callcenter.domain.audit import record_event
from callcenter.domain.debtor_mail import LADDER_TEMPLATES
from callcenter.domain.errors import DomainError
from callcenter.domain.payment import PaymentDetails, payment_details, payment_reference
from callcenter.domain.queue.ladder import ladder_segment, load_ladder
from callcenter.domain.reminders import choose_recipients
from callcenter.formatting import day, money, number, phone
from callcenter.models import (
    Call,
    Debtor,
    Disposition,
    Event,
    Invoice,
    InvoiceStatus,
)

LETTER_TEMPLATES_DIR = PROJECT_ROOT / "templates" / "letters"
REMINDER_EMAIL_TEMPLATES = (*LADDER_TEMPLATES, "reminder_promise", "reminder_instalment")


@dataclass(frozen=True)
class LetterKind:
    code: str
    template: str
    title: str
    ladder_action: str


KINDS = {
    "relance": LetterKind("relance", "lettre_relance.html", "Lettre de relance", "letter"),
    "mise_en_demeure": LetterKind(
        "mise_en_demeure", "mise_en_demeure.html", "Mise en demeure de payer", "formal_notice"
    ),
}


@dataclass(frozen=True)
class LetterInvoice:
    number: str
    issue_date: str
    due_date: str
    amount: str
    open_amount: str
    days_late: int
    penalty: str


@dataclass(frozen=True)
class PastReminder:
    date: str
    kind: str
    detail: str


@dataclass(frozen=True)
class LetterContent:
    """Every value already formatted for a French reader."""

    kind: str
    title: str
    company_name: str
    company_signature: str
    payment: PaymentDetails
    debtor_name: str
    debtor_siren: str
    account_code: str
    contact_name: str
    letter_date: str
    subject: str
    invoices: list[LetterInvoice]
    invoice_count: int
    total: str
    penalties_total: str
    indemnities_total: str
    grand_total: str
    rate: str
    indemnity: str
    deadline_days: int
    deadline_date: str
    reminders: list[PastReminder] = field(default_factory=list)
    company_address: list[str] = field(default_factory=list)
    company_siren: str = ""
    company_phone: str = ""
    debtor_address: list[str] = field(default_factory=list)

    @property
    def address_missing(self) -> bool:
        return not self.debtor_address


@dataclass(frozen=True)
class Letter:
    kind: str
    debtor_id: int
    invoice_ids: list[int]
    invoice_numbers: list[str]
    total_cents: int
    filename: str
    html: str
    content: LetterContent


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(LETTER_TEMPLATES_DIR),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def postal_address(debtor) -> list[str]:
    """The debtor's address as printed lines; empty when no street or city is known."""
    if not (debtor.address_line1 or debtor.city):
        return []
    town = " ".join(part for part in (debtor.postal_code, debtor.city) if part)
    lines = [debtor.address_line1, debtor.address_line2, town]
    if debtor.country and debtor.country.strip().lower() != "france":
        lines.append(debtor.country.upper())
    return [line for line in lines if line]


def late_penalty_cents(open_cents: int, days_late: int, rate_percent: float) -> int:
    """Simple interest on the open amount from the day after the due date (rounded to a cent)."""
    if days_late <= 0 or open_cents <= 0:
        return 0
    return round(open_cents * rate_percent / 100 * days_late / 365)


def _siren(value: str | None) -> str:
    if value and len(value) == 9 and value.isdigit():
        return f"{value[:3]} {value[3:6]} {value[6:]}"
    return value or "non renseigné"


def _day(moment: datetime, settings: Settings) -> date:
    return moment.astimezone(ZoneInfo(settings.app.timezone)).date()


def past_reminders(session: Session, *, debtor_id: int, settings: Settings) -> list[PastReminder]:
    """Earlier reminders, oldest first: reminder emails sent, calls with an outcome, letters."""
    found: list[tuple[date, int, PastReminder]] = []
    events = session.exec(
        select(Event)
        .where(
            Event.debtor_id == debtor_id,
            col(Event.type).in_(["email.sent", "letter.generated"]),
        )
        .order_by(Event.at, Event.id)
    ).all()
    for event in events:
        when = _day(event.at, settings)
        if event.type == "email.sent":
            if event.payload.get("template") not in REMINDER_EMAIL_TEMPLATES:
                continue
            detail = f"« {event.payload.get('subject', '')} »"
            found.append((when, event.id, PastReminder(day(when), "Courriel", detail)))
        else:
            kind = KINDS.get(event.payload.get("kind", ""))
            title = kind.title if kind else "Courrier"
            numbers = ", ".join(event.payload.get("invoices", []))
            found.append((when, event.id, PastReminder(day(when), title, f"Factures {numbers}")))
    labels = dict(session.exec(select(Disposition.code, Disposition.label)).all())
    calls = session.exec(
        select(Call)
        .where(Call.debtor_id == debtor_id, col(Call.disposition_code).is_not(None))
        .order_by(Call.created_at, Call.id)
    ).all()
    for call in calls:
        when = _day(call.started_at or call.created_at, settings)
        label = labels.get(call.disposition_code, call.disposition_code)
        found.append((when, call.id, PastReminder(day(when), "Appel téléphonique", label)))
    found.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in found]


def build_letter(
    session: Session, *, account_code: str, kind: str, today: date, settings: Settings
) -> Letter:
    """The letter's HTML for the debtor's open overdue invoices (nothing is written)."""
    letter_kind = KINDS.get(kind)
    if letter_kind is None:
        raise DomainError(f"Type de lettre inconnu : « {kind} ».", field="kind")
    code = account_code.strip()
    debtor = session.exec(select(Debtor).where(Debtor.account_code == code)).first()
    if debtor is None:
        raise DomainError(f"Compte client introuvable : « {code} ».", field="account_code")
    invoices = session.exec(
        select(Invoice)
        .where(
            Invoice.debtor_id == debtor.id,
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.open_amount_cents > 0,
            Invoice.due_date < today,
            col(Invoice.disputed).is_(False),
        )
        .order_by(Invoice.due_date, Invoice.number)
    ).all()
    invoices = [i for i in invoices if i.paused_until is None or i.paused_until <= today]
    if not invoices:
        raise DomainError(
            f"Aucune facture échue, non contestée et non suspendue pour le compte {code} : "
            "pas de lettre à envoyer.",
            field="account_code",
        )
    letters = settings.letters
    rows, penalties = [], 0
    for invoice in invoices:
        late = (today - invoice.due_date).days
        penalty = late_penalty_cents(
            invoice.open_amount_cents, late, letters.late_interest_rate_percent
        )
        penalties += penalty
        rows.append(
            LetterInvoice(
                number=invoice.number,
                issue_date=day(invoice.issue_date),
                due_date=day(invoice.due_date),
                amount=money(invoice.amount_cents, invoice.currency),
                open_amount=money(invoice.open_amount_cents, invoice.currency),
                days_late=late,
                penalty=money(penalty),
            )
        )
    total = sum(i.open_amount_cents for i in invoices)
    indemnities = letters.recovery_indemnity_cents * len(invoices)
    deadline = today + timedelta(days=letters.payment_deadline_days)
    recipient = choose_recipients(session, [debtor.id]).get(debtor.id)
    subject = (
        f"{letter_kind.title} — factures impayées"
        if len(invoices) > 1
        else f"{letter_kind.title} — facture {invoices[0].number} impayée"
    )
    content = LetterContent(
        kind=letter_kind.code,
        title=letter_kind.title,
        company_name=settings.company.name,
        company_signature=settings.company.signature,
        payment=payment_details(
            settings,
            reference=payment_reference(debtor.account_code, [i.number for i in invoices]),
            # what the letter asks for: the principal, or all a formal notice claims
            amount_cents=total + penalties + indemnities
            if letter_kind.code == "mise_en_demeure"
            else total,
        ),
        debtor_name=debtor.name,
        debtor_siren=_siren(debtor.siren),
        account_code=debtor.account_code,
        contact_name=recipient.name if recipient else "",
        letter_date=day(today),
        subject=subject,
        invoices=rows,
        invoice_count=len(rows),
        total=money(total),
        penalties_total=money(penalties),
        indemnities_total=money(indemnities),
        grand_total=money(total + penalties + indemnities),
        rate=number(letters.late_interest_rate_percent, 2) + "\u00a0%",
        indemnity=money(letters.recovery_indemnity_cents),
        deadline_days=letters.payment_deadline_days,
        deadline_date=day(deadline),
        reminders=past_reminders(session, debtor_id=debtor.id, settings=settings),
        company_address=list(settings.company.address),
        company_siren=settings.company.siren,
        company_phone=phone(settings.company.phone),
        debtor_address=postal_address(debtor),
    )
    html = _environment().get_template(letter_kind.template).render(letter=content)
    return Letter(
        kind=letter_kind.code,
        debtor_id=debtor.id,
        invoice_ids=[i.id for i in invoices],
        invoice_numbers=[i.number for i in invoices],
        total_cents=total,
        filename=f"{letter_kind.code}_{debtor.account_code}_{today:%Y%m%d}.pdf",
        html=html,
        content=content,
    )


def record_letter(
    session: Session,
    *,
    letter: Letter,
    now: datetime,
    settings: Settings,
    actor_id: int | None = None,
) -> Event:
    """The letter goes on the timeline and its invoices move to the letter's ladder rung."""
    debtor = session.get(Debtor, letter.debtor_id)
    action = KINDS[letter.kind].ladder_action
    rungs = load_ladder(session)
    segment = ladder_segment(debtor.segment, rungs) if debtor else "standard"
    rung = next((r for r in rungs if r.segment == segment and r.action == action), None)
    stage = rung.stage if rung else KINDS[letter.kind].title[:40]
    for invoice in session.exec(select(Invoice).where(col(Invoice.id).in_(letter.invoice_ids))):
        invoice.reminder_count += 1
        invoice.last_reminder_at = now
        invoice.dunning_stage = stage
        invoice.updated_at = now
        session.add(invoice)
    event = record_event(
        session,
        type="letter.generated",
        actor_id=actor_id,
        debtor_id=letter.debtor_id,
        payload={
            "kind": letter.kind,
            "invoices": letter.invoice_numbers,
            "total_cents": letter.total_cents,
            "deadline": letter.content.deadline_date if letter.kind == "mise_en_demeure" else None,
        },
        at=now,
    )
    session.flush()
    return event
