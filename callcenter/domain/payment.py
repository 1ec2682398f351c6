"""How a debtor pays: bank details, the one payment-reference rule, the SEPA QR payload.

Every email and letter that asks for money tells the debtor how to pay it the same way:
the company's IBAN and BIC (``[company]``, checked at start-up), the reference to write on
the transfer, the amount when one is due, a phone number to call back, and an EPC QR code
(« GiroCode », EPC069-12) that a banking app scans to fill the transfer in. This module
builds the QR code's *text*; drawing it is the mail and PDF renderers' business (segno).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stdnum import iban as stdnum_iban

from callcenter.config import Settings
from callcenter.formatting import money, phone

# EPC069-12 (version 2.1 of the "Quick Response Code" guidelines): field limits.
EPC_NAME_LIMIT = 70
EPC_REMITTANCE_LIMIT = 140
EPC_MAX_AMOUNT_CENTS = 999_999_999_99
EPC_PAYLOAD_LIMIT = 331  # bytes, the whole payload


def payment_reference(account_code: str, invoice_numbers: Sequence[str]) -> str:
    """The reference the debtor writes on a transfer: the account code, plus the invoice
    number when a single invoice is concerned (``411C00042 FA-2026-000123``)."""
    if len(invoice_numbers) == 1:
        return f"{account_code} {invoice_numbers[0]}"
    return account_code


def epc_amount(amount_cents: int | None) -> str:
    """The standard's amount field, ``EUR1250.50`` for 125 050 cents (always two decimals);
    empty when nothing is to be paid or past the standard's 999 999 999,99 € limit: the
    debtor then types the amount."""
    if not amount_cents or amount_cents <= 0 or amount_cents > EPC_MAX_AMOUNT_CENTS:
        return ""
    return f"EUR{amount_cents // 100}.{amount_cents % 100:02d}"


def _clean(text: str, limit: int) -> str:
    """One line of the payload: no line break inside, within the field's limit."""
    return " ".join(text.split())[:limit].strip()


def epc_payload(*, bic: str, name: str, iban: str, amount_cents: int | None, reference: str) -> str:
    """The EPC069-12 text of a SEPA credit transfer, lines separated by ``\\n``.

    ``BCD`` / version ``002`` (BIC optional inside the EEA) / ``1`` (UTF-8) / ``SCT`` / BIC /
    beneficiary (≤ 70) / IBAN / amount / purpose (empty) / structured reference (empty: ours
    is not an ISO 11649 RF reference) / unstructured remittance (≤ 140): our payment
    reference. Trailing empty fields are left out, as the standard allows.
    """
    account = stdnum_iban.compact(iban)
    beneficiary = _clean(name, EPC_NAME_LIMIT)
    if not account or not beneficiary:
        raise ValueError("a SEPA QR code needs the beneficiary's name and IBAN")
    fields = [
        "BCD",
        "002",
        "1",
        "SCT",
        bic.replace(" ", "").upper(),
        beneficiary,
        account,
        epc_amount(amount_cents),
        "",
        "",
        _clean(reference, EPC_REMITTANCE_LIMIT),
    ]
    while fields[-1] == "":
        fields.pop()
    payload = "\n".join(fields)
    if len(payload.encode()) > EPC_PAYLOAD_LIMIT:
        raise ValueError("EPC payload over 331 bytes")
    return payload


@dataclass(frozen=True)
class PaymentDetails:
    """What the debtor reads under « Comment régler » (already formatted)."""

    beneficiary: str
    iban: str
    bic: str
    reference: str
    amount: str
    phone: str
    epc: str

    @property
    def by_transfer(self) -> bool:
        return bool(self.iban)


def payment_details(
    settings: Settings, *, reference: str, amount_cents: int | None = None
) -> PaymentDetails:
    """The bank details, reference, amount (when one is due), phone and QR payload."""
    company = settings.company
    amount = amount_cents if amount_cents and amount_cents > 0 else None
    return PaymentDetails(
        beneficiary=company.name,
        iban=stdnum_iban.format(company.iban) if company.iban else "",
        bic=company.bic,
        reference=reference,
        amount=money(amount) if amount else "",
        phone=phone(company.phone),
        epc=epc_payload(
            bic=company.bic,
            name=company.name,
            iban=company.iban,
            amount_cents=amount,
            reference=reference,
        )
        if company.iban
        else "",
    )
