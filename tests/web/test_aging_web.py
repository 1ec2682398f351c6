"""The aged-balance page and its CSV / XLSX exports, checked against the domain figures."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlmodel import Session

from callcenter.domain.aging import AMOUNT_COLUMNS, aged_balance, dso
from callcenter.formatting import money
from callcenter.web import supervisor
from tests.domain.test_aging import (
    ALPHA,
    AS_OF,
    BETA,
    TOTALS,
    add_debtor,
    add_invoice,
    build_portfolio,
)

HEADERS = [
    "Code compte",
    "Débiteur",
    "Segment",
    "Non échu",
    "1 à 30 j",
    "31 à 60 j",
    "61 à 90 j",
    "Plus de 90 j",
    "En litige",
    "Total",
    "Avoir",
]


@pytest.fixture
def portfolio(app, monkeypatch):
    """The hand-checked portfolio of the domain tests, seen by the app on AS_OF."""
    monkeypatch.setattr(supervisor, "_today", lambda: AS_OF)
    engine = app.extensions["callcenter"].engine
    with Session(engine, expire_on_commit=False) as session:
        debtors = build_portfolio(session)
        expected = aged_balance(session, as_of=AS_OF, limit=50)
    assert expected.totals.amounts == TOTALS
    return {"debtors": debtors, "expected": expected, "engine": engine}


def _cents(text: str) -> int:
    """``-1234,56`` → ``-123456``; anything else than the French CSV convention fails."""
    whole, _, decimals = text.partition(",")
    assert len(decimals) == 2, text
    assert "." not in text and " " not in text, text
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int(decimals))


def _amounts_in_cents(amounts) -> list[int]:
    return [getattr(amounts, name) for name, _ in AMOUNT_COLUMNS]


def test_supervisor_sees_the_aged_balance_in_french(client, login, portfolio):
    login("supervisor")
    response = client.get("/supervision/balance-agee")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Balance âgée au 15/06/2026" in html
    for header in ("Non échu", "1 à 30 j", "Plus de 90 j", "En litige", "Encours total", "Avoir"):
        assert f'<th class="num">{header}</th>' in html
    assert f'<td class="num">{money(ALPHA.over_90)}</td>' in html
    assert f'<td class="num">{money(BETA.disputed)}</td>' in html
    assert f"<strong>{money(TOTALS.total)}</strong>" in html
    assert f"<strong>{money(17_345)}</strong>" in html
    assert "Total (3 débiteurs)" in html
    assert "Alpha Transports" in html and "Gamma Conseil" in html
    assert "Delta Imprimerie" not in html
    assert "Méthode simple : DSO = (encours clients ÷ chiffre d'affaires TTC" in html
    assert "/supervision/balance-agee.csv?segment=&amp;tri=total" in html
    assert "/supervision/balance-agee.xlsx" in html
    assert 'hx-target="#aged-balance"' in html

    with Session(portfolio["engine"]) as session:
        expected = dso(session, as_of=AS_OF)
    assert expected.revenue_cents > 0
    shown = f"{expected.dso_days:.1f}".replace(".", ",")
    assert f'<span class="kpi-value" id="dso-value">{shown} j</span>' in html
    assert money(expected.receivables_cents) in html


def test_htmx_filter_and_sort_return_the_partial_only(client, login, portfolio):
    login("supervisor")
    response = client.get(
        "/supervision/balance-agee?segment=key_account&tri=over_90", headers={"HX-Request": "true"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    assert html.lstrip().startswith('<section class="card" id="aged-balance">')
    assert "<html" not in html
    assert "Bêta Bâtiment" in html
    assert "Alpha Transports" not in html
    assert "Total (1 débiteur)" in html
    assert '<option value="key_account" selected>Grand compte</option>' in html
    assert '<option value="over_90" selected>' in html


def test_pagination_keeps_the_filters(client, login, portfolio, monkeypatch):
    monkeypatch.setattr(supervisor, "AGING_PAGE_SIZE", 2)
    login("supervisor")
    first = client.get("/supervision/balance-agee?tri=name").get_data(as_text=True)
    assert "Page 1 sur 2" in first
    assert "Gamma Conseil" not in first
    assert "/supervision/balance-agee?page=2&amp;segment=&amp;tri=name" in first
    second = client.get("/supervision/balance-agee?tri=name&page=2").get_data(as_text=True)
    assert "Page 2 sur 2" in second
    assert "Gamma Conseil" in second and "Alpha Transports" not in second


def test_bad_filters_are_explained_in_french(client, login, portfolio):
    login("supervisor")
    for query, message in [
        ("tri=montant", "Tri inconnu : « montant »"),
        ("page=abc", "Numéro de page invalide : « abc »"),
    ]:
        response = client.get(f"/supervision/balance-agee?{query}")
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    for extension in ("csv", "xlsx"):
        response = client.get(f"/supervision/balance-agee.{extension}?tri=montant")
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert "Export impossible" in html and "Tri inconnu : « montant »" in html


def test_agent_is_refused_the_page_and_the_exports(client, login):
    login("agent")
    for url in (
        "/supervision/balance-agee",
        "/supervision/balance-agee.csv",
        "/supervision/balance-agee.xlsx",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Accès refusé" in response.get_data(as_text=True)


def test_home_links_to_the_aged_balance(client, login):
    login("supervisor")
    html = client.get("/supervision/").get_data(as_text=True)
    assert 'href="/supervision/balance-agee"' in html


def test_csv_export_follows_the_french_convention_and_the_domain(client, login, portfolio):
    login("admin")
    response = client.get("/supervision/balance-agee.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="balance-agee-2026-06-15.csv"' in response.headers["Content-Disposition"]
    assert response.is_streamed
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert lines[0] == HEADERS
    *rows, total = lines[1:]

    expected = portfolio["expected"]
    assert len(rows) == len(expected.rows) == 3
    for line, row in zip(rows, expected.rows, strict=True):
        assert line[:3] == [
            row.account_code,
            row.name,
            supervisor.segment_label(row.segment),
        ]
        assert [_cents(value) for value in line[3:]] == [
            *_amounts_in_cents(row.amounts),
            row.credit_cents,
        ]
    assert rows[1][3:] == ["0,00", "0,00", "0,00", "350,50", "150,00", "250,00", "750,50", "123,45"]
    assert total[:3] == ["Total", "3 débiteurs", "Tous"]
    assert [_cents(value) for value in total[3:]] == [*_amounts_in_cents(TOTALS), 17_345]


def test_csv_export_respects_the_segment(client, login, portfolio):
    login("supervisor")
    body = client.get("/supervision/balance-agee.csv?segment=key_account").get_data()
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert [line[1] for line in lines[1:]] == ["Bêta Bâtiment", "1 débiteur"]
    assert [_cents(value) for value in lines[-1][3:]] == [*_amounts_in_cents(BETA), 12_345]


def test_xlsx_export_holds_numbers_formatted_in_euros(client, login, portfolio):
    login("supervisor")
    response = client.get("/supervision/balance-agee.xlsx?tri=name")
    assert response.status_code == 200
    assert response.mimetype == supervisor.XLSX_MIME
    assert "balance-agee-2026-06-15.xlsx" in response.headers["Content-Disposition"]
    assert response.is_streamed
    workbook = load_workbook(io.BytesIO(response.get_data()))
    sheet = workbook["Balance âgée"]
    rows = list(sheet.iter_rows())
    assert [cell.value for cell in rows[0]] == HEADERS
    *body, total = rows[1:]

    expected = sorted(portfolio["expected"].rows, key=lambda row: row.name)
    assert [row[1].value for row in body] == [row.name for row in expected]
    for cells, row in zip(body, expected, strict=True):
        amounts = cells[3:]
        for cell in amounts:
            assert isinstance(cell.value, int | float), cell.value
            assert cell.number_format == "#,##0.00 €"
        assert [round(Decimal(str(cell.value)) * 100) for cell in amounts] == [
            *_amounts_in_cents(row.amounts),
            row.credit_cents,
        ]
    assert [cell.value for cell in total[:3]] == ["Total", "3 débiteurs", "Tous"]
    assert total[0].font.bold
    assert [round(Decimal(str(cell.value)) * 100) for cell in total[3:]] == [
        *_amounts_in_cents(TOTALS),
        17_345,
    ]
    assert total[3].number_format == "#,##0.00 €"
    workbook.close()


def test_exports_never_turn_a_name_into_a_formula(app, client, login, monkeypatch):
    monkeypatch.setattr(supervisor, "_today", lambda: AS_OF)
    with Session(app.extensions["callcenter"].engine) as session:
        debtor = add_debtor(session, '=HYPERLINK("http://exemple.invalid";"Clic")')
        add_invoice(session, debtor, days_late=5, open_cents=1_000)
        session.commit()
    login("supervisor")
    body = client.get("/supervision/balance-agee.csv").get_data().decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert lines[1][1] == '\'=HYPERLINK("http://exemple.invalid";"Clic")'
    workbook = load_workbook(io.BytesIO(client.get("/supervision/balance-agee.xlsx").get_data()))
    cell = workbook.active["B2"]
    assert cell.value == '=HYPERLINK("http://exemple.invalid";"Clic")'
    assert cell.data_type == "s"
    workbook.close()
