"""Every email a debtor receives, composed one way: one context, one subject table, one enqueue.

Recaps after a call, promise and instalment reminders, and the ladder's emails share the
layout (greeting, signature of the agent or the collection service, replies to the agent),
the invoice table, and the « how to pay » block: bank details, the payment reference, the
amount when one is due, the EPC QR code and the number to call back. Templates live in
``templates/emails`` as plain text and HTML pairs, French, in the courteous register of a
credit manager. The HTML names the QR code by its payload (``data-epc``); the mail renderer
draws it (the domain imports no rendering library).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel import Session

from callcenter.config import PROJECT_ROOT, Settings
from callcenter.domain.outbox import enqueue_email, mailbox
from callcenter.domain.payment import PaymentDetails, payment_details, payment_reference
from callcenter.formatting import day, money
from callcenter.models import Debtor, Invoice, OutboxEmail

EMAIL_TEMPLATES_DIR = PROJECT_ROOT / "templates" / "emails"

PREVENTIVE = "ladder_preventive"
FIRST_REMINDER = "ladder_reminder_1"
SECOND_REMINDER = "ladder_reminder_2"
LADDER_TEMPLATES = (PREVENTIVE, FIRST_REMINDER, SECOND_REMINDER)
RECAP_TEMPLATES = (
    "promise",
    "payment_plan",
    "dispute",
    "invoice_resend",
    "already_paid",
    "attempt",
)

# One table for every email: the template's name (as stored on the outbox row) → its subject.
SUBJECTS = {
    "promise": "Récapitulatif de notre appel : règlement de {amount} prévu le {date}",
    "payment_plan": "Récapitulatif de notre appel : échéancier de {total}",
    "dispute": "Votre réclamation est enregistrée ({debtor})",
    "invoice_resend": "{invoice_word} {invoices} — {company}",
    "already_paid": "Merci pour votre règlement — {company}",
    "attempt": "Nous avons tenté de vous joindre — {company}",
    "reminder_promise": "Rappel : règlement de {amount} prévu le {date} — {company}",
    "reminder_instalment": "Rappel : échéance {sequence}/{count} de {amount} le {date} — {company}",
    PREVENTIVE: "{invoice_word} {invoices} : tout est-il en ordre ? — {company}",
    FIRST_REMINDER: "{invoice_word} {invoices} arrivée{s} à échéance — {company}",
    SECOND_REMINDER: "Deuxième relance : {invoice_word_lower} {invoices} impayée{s} — {company}",
}


@dataclass(frozen=True)
class MailInvoice:
    number: str
    issue_date: str
    due_date: str
    amount: str
    open_amount: str

    @classmethod
    def of(cls, invoice: Invoice) -> MailInvoice:
        return cls(
            invoice.number,
            day(invoice.issue_date),
            day(invoice.due_date),
            money(invoice.amount_cents, invoice.currency),
            money(invoice.open_amount_cents, invoice.currency),
        )


@dataclass(frozen=True)
class MailInstalment:
    sequence: int
    due_date: str
    amount: str


@dataclass(frozen=True)
class DebtorEmail:
    """Every value already formatted for a French reader (``recap`` in the templates).

    ``amount`` is what this email asks for (the promised amount, the instalment, …) and
    ``total`` the line closing the table it lists (the plan's total, the invoices' total);
    ``partial`` says a promise covers its invoices only in part (« Montant promis »).
    """

    template: str
    company_name: str
    company_signature: str
    debtor_name: str
    contact_name: str
    agent_name: str
    agent_email: str
    payment: PaymentDetails
    call_date: str = ""
    amount: str = ""
    due_date: str = ""
    total: str = ""
    partial: bool = False
    sequence: int = 0
    instalment_count: int = 0
    previous_reminder_date: str = ""
    invoices: list[MailInvoice] = field(default_factory=list)
    instalments: list[MailInstalment] = field(default_factory=list)
    dispute_category: str = ""
    dispute_description: str = ""
    dispute_handler: str = ""
    notes: str = ""

    @property
    def file(self) -> str:
        return f"recap_{self.template}" if self.template in RECAP_TEMPLATES else self.template


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Recipient:
    contact_id: int
    name: str
    email: str
    addressed_as: str = ""  # « Madame Dupré » (``addressing.addressed``); the name if empty


@dataclass(frozen=True)
class Signer:
    """Who signs and receives the replies (``reply_to`` empty: the sender's address)."""

    name: str
    email: str
    reply_to: str | None


def signer_for(name: str, email: str) -> Signer:
    return Signer(name, email, mailbox(name, email))


@lru_cache(maxsize=2)
def email_environment(html: bool) -> Environment:
    return Environment(
        loader=FileSystemLoader(EMAIL_TEMPLATES_DIR),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default=html),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def debtor_email(
    template: str,
    *,
    settings: Settings,
    debtor: Debtor,
    recipient: Recipient,
    signer: Signer,
    invoices: list[Invoice],
    pay_cents: int | None = None,
    reference_invoices: list[Invoice] | None = None,
    **values,
) -> DebtorEmail:
    """The context of any debtor email: the invoices listed (due date order), the payment
    reference (one rule, ``payment_reference``, of the invoices listed unless
    ``reference_invoices`` says which are to be paid) and ``pay_cents`` in the QR code."""
    if template not in SUBJECTS:
        raise ValueError(f"unknown email template {template!r}")
    listed = sorted(invoices, key=lambda invoice: (invoice.due_date, invoice.number))
    company = settings.company
    paid_for = listed if reference_invoices is None else reference_invoices
    reference = payment_reference(debtor.account_code, [invoice.number for invoice in paid_for])
    return DebtorEmail(
        template=template,
        company_name=company.name,
        company_signature=company.signature,
        debtor_name=debtor.name,
        contact_name=recipient.addressed_as or recipient.name,
        agent_name=signer.name,
        agent_email=signer.email,
        payment=payment_details(settings, reference=reference, amount_cents=pay_cents),
        invoices=[MailInvoice.of(invoice) for invoice in listed],
        **values,
    )


def email_subject(context: DebtorEmail) -> str:
    numbers = [invoice.number for invoice in context.invoices]
    shown = ", ".join(numbers[:3]) + (" …" if len(numbers) > 3 else "")
    many = len(numbers) > 1
    return SUBJECTS[context.template].format(
        amount=context.amount,
        total=context.total,
        date=context.due_date,
        sequence=context.sequence,
        count=context.instalment_count,
        debtor=context.debtor_name,
        company=context.company_name,
        invoices=shown,
        invoice_word="Vos factures" if many else "Votre facture",
        invoice_word_lower="factures" if many else "facture",
        s="s" if many else "",
    )


def render_email(context: DebtorEmail) -> RenderedEmail:
    """Subject, text and HTML of the context's template."""
    if context.template not in SUBJECTS:
        raise ValueError(f"unknown email template {context.template!r}")
    values = {"recap": context}
    text = email_environment(False).get_template(f"{context.file}.txt").render(values)
    html = email_environment(True).get_template(f"{context.file}.html").render(values)
    return RenderedEmail(subject=email_subject(context), text=text, html=html)


def message_domain(settings: Settings) -> str:
    return settings.mail.sender_address.partition("@")[2] or "localhost"


def enqueue_debtor_email(
    session: Session,
    *,
    key: str,
    context: DebtorEmail,
    recipient: Recipient,
    signer: Signer,
    debtor_id: int,
    settings: Settings,
    now: datetime,
    call_id: int | None = None,
    send_after: datetime | None = None,
) -> OutboxEmail:
    """Render the email and write its outbox row (the caller commits with the rest)."""
    rendered = render_email(context)
    return enqueue_email(
        session,
        idempotency_key=key,
        template=context.template,
        to_address=mailbox(recipient.name, recipient.email),
        reply_to=signer.reply_to,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        message_id_domain=message_domain(settings),
        debtor_id=debtor_id,
        contact_id=recipient.contact_id,
        call_id=call_id,
        send_after=send_after,
        now=now,
    )
