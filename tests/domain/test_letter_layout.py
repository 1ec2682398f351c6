"""Letters: the first page fits a French window envelope, nothing printed over anything else.

Measured on the PDF itself (pdfplumber): the boxes of the first page's text lines, the
recipient's words inside the address area a DL envelope's window shows, the body below the
window. Each PDF stays in the test's tmp_path, to look at.
"""

from __future__ import annotations

import io
from datetime import date
from itertools import combinations

import pdfplumber
import pytest

from callcenter.domain.letters import build_letter
from callcenter.providers.pdf import render_pdf
from tests.conftest import make_settings
from tests.factories import make_contact, make_debtor, make_invoice

TODAY = date(2026, 11, 23)
POINTS_PER_MM = 72 / 25.4

# Reference: address frame for French window envelopes, 85 mm wide and 33 mm high, 110 mm
# from the left edge and 55 mm from the top of the A4 sheet (edics.fr, « Rédiger vos adresses :
# les bonnes pratiques », which leaves the window's top strip to the registered-mail barcode).
# The recipient must print inside it; 1 mm tolerance for the glyph boxes.
ADDRESS_AREA_MM = (110 - 1, 55 - 1, 110 + 85 + 1, 55 + 33 + 1)
# Where the envelope's window can show the sheet: a DL window (100 x 45 mm, 20 mm from the
# right and 15 mm from the bottom of a 220 x 110 mm envelope) with the sheet free to slide.
WINDOW_MM = (95, 45, 200, 95)

CASES = {
    "short": {
        "company": {"name": "Exemple SAS", "address": ["3 quai des Tanneurs", "69002 Lyon"]},
        "debtor": {
            "name": "Durand SA",
            "address_line1": "4 rue Pasteur",
            "postal_code": "21000",
            "city": "Dijon",
        },
        "contact": "Léa Roy",
    },
    "long": {
        "company": {
            "name": "Compagnie Générale de Recouvrement Amiable et de Services Financiers du "
            "Grand Sud-Ouest SAS",
            "address": [
                "Immeuble Les Jardins de la Garonne, bâtiment C, troisième étage, porte gauche",
                "147 boulevard du Maréchal Jean-Marie de Lattre de Tassigny prolongé",
                "Zone d'activités économiques intercommunale de la Plaine",
                "31000 Toulouse Cedex 9",
            ],
            "phone": "+33 5 61 00 00 00",
            "siren": "552100554",
        },
        "debtor": {
            "name": "Établissements Dupont-Lefebvre, Fournitures Industrielles et Agricoles "
            "de Bourgogne-Franche-Comté et des Régions Limitrophes SARL",
            "address_line1": "Zone industrielle des Grandes Terres Rouges, lot numéro 127, "
            "bâtiment administratif B",
            "address_line2": "Chemin départemental 974 de la Côte-d'Or et du Val de Saône",
            "postal_code": "21700",
            "city": "Nuits-Saint-Georges-sur-Vouge-et-Autres-Lieux-Dits",
            "country": "Belgique",
        },
        "contact": "Marie-Bernadette de La Rochefoucauld-Montmorency, directrice financière",
    },
    "multiline": {
        "company": {
            "name": "Exemple SAS",
            "address": [
                "Service relance client",
                "Bâtiment A, 3e étage",
                "3 quai des Tanneurs",
                "CS 10001",
                "69002 Lyon",
            ],
            "phone": "+33 4 78 00 00 00",
            "siren": "552100554",
        },
        "debtor": {
            "name": "Durand & Fils",
            "address_line1": "Résidence du Parc, 12 allée des Tilleuls",
            "address_line2": "BP 42",
            "postal_code": "1000",
            "city": "Bruxelles",
            "country": "Belgique",
        },
        "contact": "Hélène Dupré",
    },
}


def mm(points: float) -> float:
    return points / POINTS_PER_MM


def first_page_words(pdf: bytes) -> list[dict]:
    """Every word of the first page, in the order it was drawn, with its box in millimetres."""
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        words = document.pages[0].extract_words(use_text_flow=True, keep_blank_chars=False)
    return [
        {
            "text": word["text"],
            "x0": mm(word["x0"]),
            "x1": mm(word["x1"]),
            "top": mm(word["top"]),
            "bottom": mm(word["bottom"]),
        }
        for word in words
    ]


def text_lines(words: list[dict]) -> list[dict]:
    """Runs of words drawn one after the other on the same baseline, as one box each."""
    lines: list[dict] = []
    for word in words:
        line = lines[-1] if lines else None
        if line and abs(line["top"] - word["top"]) < 0.3 and word["x0"] >= line["x1"] - 0.2:
            line.update(x1=word["x1"], bottom=max(line["bottom"], word["bottom"]))
            line["text"] += " " + word["text"]
        else:
            lines.append(dict(word))
    return lines


def overlaps(a: dict, b: dict, slack: float = 0.2) -> bool:
    return (
        a["x0"] + slack < b["x1"]
        and b["x0"] + slack < a["x1"]
        and a["top"] + slack < b["bottom"]
        and b["top"] + slack < a["bottom"]
    )


def inside(word: dict, area: tuple[float, float, float, float]) -> bool:
    left, top, right, bottom = area
    return (
        word["x0"] >= left
        and word["x1"] <= right
        and word["top"] >= top
        and word["bottom"] <= bottom
    )


def intersects(word: dict, area: tuple[float, float, float, float]) -> bool:
    left, top, right, bottom = area
    return (
        word["x0"] < right and left < word["x1"] and word["top"] < bottom and top < word["bottom"]
    )


def render_case(session, tmp_path, database_url, kind: str, case: dict) -> bytes:
    settings = make_settings(tmp_path, database_url, company=case["company"])
    debtor = make_debtor(session, siren="732829320", **case["debtor"])
    make_contact(session, debtor, full_name=case["contact"])
    for n in range(3):
        make_invoice(session, debtor, due_date=date(2026, 9, 1 + n), amount_cents=120_000 + n)
    letter = build_letter(
        session, account_code=debtor.account_code, kind=kind, today=TODAY, settings=settings
    )
    pdf = render_pdf(letter.html)
    (tmp_path / f"{kind}.pdf").write_bytes(pdf)
    return pdf


@pytest.mark.parametrize("case_name", sorted(CASES))
@pytest.mark.parametrize("kind", ["relance", "mise_en_demeure"])
def test_first_page_fits_a_window_envelope_without_overprinting(
    session, tmp_path, database_url, kind, case_name
):
    case = CASES[case_name]
    words = first_page_words(render_case(session, tmp_path, database_url, kind, case))

    lines = text_lines(words)
    assert len(lines) > 25
    printed_over = [(a["text"], b["text"]) for a, b in combinations(lines, 2) if overlaps(a, b)]
    assert printed_over == []

    in_window = [word for word in words if intersects(word, WINDOW_MM)]
    assert in_window, "rien dans la fenêtre"
    outside_address = [w["text"] for w in in_window if not inside(w, ADDRESS_AREA_MM)]
    assert outside_address == []
    window_text = " ".join(word["text"] for word in in_window)
    first_name_word = case["debtor"]["name"].split()[0]
    assert window_text.startswith(first_name_word)
    assert case["debtor"]["postal_code"] in window_text
    assert case["debtor"]["city"].split()[0][:12] in window_text
    assert case["contact"].split()[0][:12] in window_text
    if case["debtor"].get("country"):
        assert case["debtor"]["country"].upper() in window_text

    subject = next(word for word in words if word["text"] == "Objet")
    assert subject["top"] > WINDOW_MM[3]
    salutation = next(word for word in words if word["text"] == "Madame,")
    assert salutation["top"] > subject["bottom"]
