"""The recap email after a call: what was agreed, in writing, chosen by the disposition.

The seeds insist on a written trace after every call: the new terms and what
both sides agreed. One template per kind of outcome (promise, payment plan,
dispute acknowledged, invoice resend, already paid, attempted call), each in
plain text and HTML, French, signed with the company signature, replying to
the agent. Wrong number and do-not-call produce no email.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from callcenter.config import PROJECT_ROOT
from callcenter.formatting import day, money
from callcenter.models import Invoice

EMAIL_TEMPLATES_DIR = PROJECT_ROOT / "templates" / "emails"

SUBJECTS = {
    "promise": "Récapitulatif de notre appel : règlement de {amount} prévu le {date}",
    "payment_plan": "Récapitulatif de notre appel : échéancier de {amount}",
    "dispute": "Votre réclamation est enregistrée ({debtor})",
    "invoice_resend": "Votre facture {invoices} — {company}",
    "already_paid": "Merci pour votre règlement — {company}",
    "attempt": "Nous avons tenté de vous joindre — {company}",
}


@dataclass(frozen=True)
class RecapInvoice:
    number: str
    issue_date: str
    due_date: str
    amount: str
    open_amount: str

    @classmethod
    def of(cls, invoice: Invoice) -> RecapInvoice:
        return cls(
            invoice.number,
            day(invoice.issue_date),
            day(invoice.due_date),
            money(invoice.amount_cents, invoice.currency),
            money(invoice.open_amount_cents, invoice.currency),
        )


@dataclass(frozen=True)
class RecapInstalment:
    sequence: int
    due_date: str
    amount: str


@dataclass(frozen=True)
class RecapContext:
    """Every value is already formatted for a French reader."""

    template: str
    company_name: str
    company_signature: str
    debtor_name: str
    contact_name: str
    agent_name: str
    agent_email: str
    call_date: str
    payment_reference: str
    iban: str = ""
    bic: str = ""
    amount: str = ""
    promised_date: str = ""
    invoices: list[RecapInvoice] = field(default_factory=list)
    instalments: list[RecapInstalment] = field(default_factory=list)
    dispute_category: str = ""
    dispute_description: str = ""
    dispute_handler: str = ""
    notes: str = ""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


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


def recap_subject(context: RecapContext) -> str:
    return SUBJECTS[context.template].format(
        amount=context.amount,
        date=context.promised_date,
        debtor=context.debtor_name,
        company=context.company_name,
        invoices=", ".join(invoice.number for invoice in context.invoices),
    )


def render_recap(context: RecapContext) -> RenderedEmail:
    """Subject, text and HTML for the disposition's template."""
    if context.template not in SUBJECTS:
        raise ValueError(f"unknown recap template {context.template!r}")
    values = {"recap": context}
    text = email_environment(False).get_template(f"recap_{context.template}.txt").render(values)
    html = email_environment(True).get_template(f"recap_{context.template}.html").render(values)
    return RenderedEmail(subject=recap_subject(context), text=text, html=html)
