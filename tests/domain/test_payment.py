"""How a debtor pays: the payment-reference rule and the EPC069-12 payload, field by field."""

from __future__ import annotations

import pytest

from callcenter.domain.payment import (
    EPC_MAX_AMOUNT_CENTS,
    epc_amount,
    epc_payload,
    payment_details,
    payment_reference,
)
from tests.conftest import make_settings

IBAN = "FR76 3000 6000 0112 3456 7890 189"


def parse_epc(payload: str) -> dict[str, str]:
    """The payload read as a banking app reads it (EPC069-12 v2.1, fields by position)."""
    names = [
        "service",
        "version",
        "charset",
        "identification",
        "bic",
        "name",
        "iban",
        "amount",
        "purpose",
        "structured_reference",
        "remittance",
        "information",
    ]
    lines = payload.split("\n")
    assert len(lines) <= len(names), "trop de champs"
    return dict(zip(names, lines + [""] * (len(names) - len(lines)), strict=True))


def payload(**overrides) -> str:
    values = dict(
        bic="AGRIFRPPXXX",
        name="Exemple SAS",
        iban=IBAN,
        amount_cents=508_222,
        reference="411C00042 FA-2026-000123",
    )
    return epc_payload(**(values | overrides))


def test_payload_fields_are_the_standard_ones():
    fields = parse_epc(payload())
    assert fields == {
        "service": "BCD",
        "version": "002",
        "charset": "1",
        "identification": "SCT",
        "bic": "AGRIFRPPXXX",
        "name": "Exemple SAS",
        "iban": "FR7630006000011234567890189",
        "amount": "EUR5082.22",
        "purpose": "",
        "structured_reference": "",
        "remittance": "411C00042 FA-2026-000123",
        "information": "",
    }


@pytest.mark.parametrize(
    ("cents", "expected"),
    [
        (1, "EUR0.01"),
        (10, "EUR0.10"),
        (125_050, "EUR1250.50"),
        (100_000, "EUR1000.00"),
        (EPC_MAX_AMOUNT_CENTS, "EUR999999999.99"),
        (EPC_MAX_AMOUNT_CENTS + 1, ""),
        (0, ""),
        (-500, ""),
        (None, ""),
    ],
)
def test_amount_is_in_euros_with_two_decimals_or_left_out(cents, expected):
    assert epc_amount(cents) == expected
    assert parse_epc(payload(amount_cents=cents))["amount"] == expected


def test_without_amount_the_reference_keeps_its_place():
    fields = parse_epc(payload(amount_cents=0))
    assert fields["amount"] == "" and fields["remittance"] == "411C00042 FA-2026-000123"


def test_fields_stay_within_the_standards_lengths_and_on_one_line():
    long = payload(name="Société " * 20, reference="Réf\nsur deux lignes " + "x" * 200)
    fields = parse_epc(long)
    assert 1 <= len(fields["name"]) <= 70
    assert 1 <= len(fields["remittance"]) <= 140
    assert fields["remittance"].startswith("Réf sur deux lignes")
    assert len(long.encode()) <= 331


def test_a_payload_needs_a_beneficiary_and_an_iban():
    with pytest.raises(ValueError):
        payload(name="  ")
    with pytest.raises(ValueError):
        payload(iban="")


def test_one_reference_rule_account_code_plus_a_single_invoice():
    assert payment_reference("411C00042", ["FA-1"]) == "411C00042 FA-1"
    assert payment_reference("411C00042", ["FA-1", "FA-2"]) == "411C00042"
    assert payment_reference("411C00042", []) == "411C00042"


def test_details_format_the_iban_and_phone_and_carry_the_payload(tmp_path):
    settings = make_settings(tmp_path, "sqlite://")
    details = payment_details(settings, reference="411C00042", amount_cents=125_050)
    assert details.iban == IBAN and details.bic == "AGRIFRPPXXX"
    assert details.phone == "04 65 71 38 03"
    assert details.amount == "1\u202f250,50\xa0€"
    assert parse_epc(details.epc)["amount"] == "EUR1250.50"


def test_without_iban_there_is_no_transfer_and_no_qr_code(tmp_path):
    settings = make_settings(tmp_path, "sqlite://", company={"iban": "", "bic": ""})
    details = payment_details(settings, reference="411C00042", amount_cents=125_050)
    assert not details.by_transfer and details.epc == ""
