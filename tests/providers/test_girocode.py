"""The SEPA QR code drawn by segno decodes (zxing-cpp) to exactly the domain's payload."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image

from callcenter.domain.payment import epc_payload
from callcenter.providers.girocode import draw_qr_codes, qr_payloads, qr_png

PAYLOAD = epc_payload(
    bic="AGRIFRPPXXX",
    name="Établissements Gérard & Fils",
    iban="FR76 3000 6000 0112 3456 7890 189",
    amount_cents=508_222,
    reference="411C00042 FA-2026-000123",
)


def decode(png: bytes) -> list:
    return zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))


def test_png_decodes_to_the_payload_in_utf8_at_level_m():
    [code] = decode(qr_png(PAYLOAD))
    assert code.format == zxingcpp.BarcodeFormat.QRCode
    assert code.text == PAYLOAD
    assert code.bytes == PAYLOAD.encode("utf-8"), "EPC charset 1: UTF-8 bytes"
    assert code.ec_level == "M"


def test_placeholders_get_their_image_and_lose_their_payload():
    document = (
        '<p>Avant</p><img class="epc-qr" src="cid:epc-qr" data-epc="BCD&#10;002&amp;x" alt="QR">'
    )
    assert qr_payloads(document) == ["BCD&#10;002&x".replace("&#10;", "\n")]
    drawn = draw_qr_codes(document, lambda payload: f"cid:{len(payload)}")
    assert drawn == '<p>Avant</p><img class="epc-qr" src="cid:9" alt="QR">'
