"""Property-based fuzzing of the import parsers: whatever a cell or a file holds, the import
gives a value or a French message (with its line), never an exception.

Bounded for the everyday run; a longer run:
``CALLCENTER_FUZZ_EXAMPLES=5000 python -m pytest tests/domain/test_imports_fuzz.py``.
"""

from __future__ import annotations

import os
import re
from datetime import date

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from callcenter.domain.imports import values as v
from callcenter.domain.imports.fec import FEC_COLUMNS as FEC_COLUMN_NAMES
from callcenter.domain.imports.sources import FileRefused, open_table
from tests.domain.imports_helpers import do_import, row_counts

EXAMPLES = int(os.environ.get("CALLCENTER_FUZZ_EXAMPLES", "300"))
FILE_EXAMPLES = max(EXAMPLES // 6, 25)
YEARS = (1990, 2100)
FRENCH = re.compile(
    r"[àâçéèêëîïôûùü«»]|\b(?:le|la|les|de|du|des|un|une|est|au|aux|en|ne|pas|attendue?|ligne"
    r"|colonne|fichier|valeur|montant|date|champ|texte|feuille|invalide|inconnue?|manquante?"
    r"|obligatoire|vide|double|trop)\b",
    re.I,
)
ENGLISH = re.compile(
    r"\b(?:the|of|is|invalid literal|expected|field|error|line|out of range|must)\b"
)
PARSER_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None)
FILE_SETTINGS = settings(
    max_examples=FILE_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Cells that look like amounts and dates: digits, separators, signs, spaces, currency and
# letters, so that most examples get past the first check.
AMOUNT_ALPHABET = st.sampled_from(list("0123456789,.-+ \u00a0\u202f'€eE_xé٣"))
DATE_ALPHABET = st.sampled_from(list("0123456789/-.: T"))
amount_text = st.one_of(st.text(AMOUNT_ALPHABET, max_size=24), st.text(max_size=24))
date_text = st.one_of(st.text(DATE_ALPHABET, max_size=24), st.text(max_size=24))


def _is_french(message: str) -> bool:
    return bool(FRENCH.search(message)) and not ENGLISH.search(message.split("«")[0])


@PARSER_SETTINGS
@given(text=amount_text, allow_negative=st.booleans())
@example(text="1,234", allow_negative=False)
@example(text="99999999999999999999", allow_negative=True)
@example(text="-0,5", allow_negative=False)
def test_any_amount_text_is_cents_within_32_bits_or_a_french_message(text, allow_negative):
    try:
        cents = v.cents(text, allow_negative=allow_negative)
    except v.BadValue as bad:
        assert _is_french(bad.message), bad.message
        return
    assert isinstance(cents, int)
    assert abs(cents) <= v.MAX_CENTS
    assert allow_negative or cents >= 0


@PARSER_SETTINGS
@given(
    number=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans(), st.none()
    )
)
def test_any_spreadsheet_number_is_cents_or_a_french_message(number):
    try:
        cents = v.cents(number, allow_negative=True)
    except v.BadValue as bad:
        assert _is_french(bad.message), bad.message
        return
    assert isinstance(cents, int) and abs(cents) <= v.MAX_CENTS


@PARSER_SETTINGS
@given(cents=st.integers(0, v.MAX_CENTS), style=st.sampled_from(["fr", "grouped", "dot"]))
def test_every_amount_written_the_french_way_reads_back_to_the_same_cents(cents, style):
    euros, hundredths = divmod(cents, 100)
    if style == "fr":
        text = f"{euros:_},{hundredths:02d}".replace("_", "\u202f")
    elif style == "grouped":
        text = f"{euros:_},{hundredths:02d}".replace("_", ".")
    else:
        text = f"{euros}.{hundredths:02d}"
    assert v.cents(text) == cents


@PARSER_SETTINGS
@given(text=date_text)
@example(text="31/12/9999")
@example(text="00000000")
@example(text="2024-02-30T25:61")
def test_any_date_text_is_a_date_in_the_accepted_years_or_a_french_message(text):
    try:
        parsed = v.parse_date(text, years=YEARS)
    except v.BadValue as bad:
        assert _is_french(bad.message), bad.message
        return
    assert isinstance(parsed, date)
    assert YEARS[0] <= parsed.year <= YEARS[1]


@PARSER_SETTINGS
@given(day=st.dates(date(YEARS[0], 1, 1), date(YEARS[1], 12, 31)))
def test_every_date_written_the_french_way_reads_back(day):
    assert v.parse_date(day.strftime("%d/%m/%Y"), years=YEARS) == day
    assert v.parse_date(day.isoformat(), years=YEARS) == day
    assert v.parse_date(day.strftime("%Y%m%d"), years=YEARS) == day


@PARSER_SETTINGS
@given(text=st.text(max_size=300), limit=st.integers(1, 200))
def test_any_cell_text_is_one_bounded_line_or_a_french_message(text, limit):
    try:
        cleaned = v.bounded(v.clean(text), limit)
    except v.BadValue as bad:
        assert _is_french(bad.message), bad.message
        return
    assert len(cleaned) <= limit
    assert not re.search(r"[\x00-\x1f\x7f]", cleaned)


# --- whole files ---------------------------------------------------------------------------

HEADERS = {
    "debtors": ["Code client", "Raison sociale", "SIREN", "Délai de paiement", "Code postal"],
    "invoices": ["Code client", "N° facture", "Date facture", "Échéance", "Montant TTC"],
    "payments": ["Code client", "Référence", "Date de règlement", "Montant", "N° facture"],
}
cell = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
    amount_text,
    date_text,
    st.sampled_from(["", "C1", "F-1", "15/01/2025", "10,00", '"', '";"', "a" * 300]),
)
separator = st.sampled_from([";", ",", "\t", "|"])
line_end = st.sampled_from(["\n", "\r\n", "\r", "\r\r\n"])


@st.composite
def csv_files(draw) -> tuple[str, bytes]:
    """A CSV of one kind: its header (sometimes altered), rows of odd cells and widths, in an
    encoding that may not be UTF-8, sometimes with a raw odd byte."""
    kind = draw(st.sampled_from(sorted(HEADERS)))
    sep, end = draw(separator), draw(line_end)
    header = list(HEADERS[kind])
    if draw(st.booleans()):
        header = draw(st.lists(st.sampled_from([*header, "Couleur", ""]), max_size=6)) or header
    rows = draw(st.lists(st.lists(cell, max_size=7), max_size=8))
    text = end.join(sep.join(line) for line in [header, *rows]) + draw(st.sampled_from(["", end]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "cp850"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        position = draw(st.integers(0, len(data)))
        data = data[:position] + draw(st.binary(min_size=1, max_size=3)) + data[position:]
    return kind, data


def _read_all(path) -> None:
    with open_table(path) as table:
        for line, cells in table.rows:
            assert isinstance(line, int) and line > table.header_line
            assert isinstance(cells, list)


@FILE_SETTINGS
@given(data=st.binary(max_size=400))
@example(data=b"Code client;Raison sociale\r\x00C1;Martin\r")
@example(data=b"PK\x03\x04garbage")
@example(data=b"\n\r\x01")
@example(data=b"Code client;R\n\r0")
@example(data=b'Code client;"x" y\nC1;M\n')
def test_any_bytes_are_read_as_rows_or_refused_in_french(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "fichier.csv"
    path.write_bytes(data)
    try:
        _read_all(path)
    except FileRefused as refused:
        assert _is_french(refused.message), refused.message


@FILE_SETTINGS
@given(generated=csv_files())
def test_any_csv_import_reports_in_french_with_lines_and_writes_nothing_when_refused(
    engine, tmp_path_factory, generated
):
    kind, data = generated
    path = tmp_path_factory.mktemp("fuzz") / f"{kind}.csv"
    path.write_bytes(data)
    before = row_counts(engine)
    report = do_import(engine, kind, path)  # committed only when the report is clean
    if report.refused:
        assert _is_french(report.refused), report.refused
    for issue in report.errors:
        assert issue.line is not None and issue.line >= 1, issue
        assert _is_french(issue.message), issue.message
    if not report.ok:
        assert row_counts(engine) == before
    "\n".join(report.lines())  # the terminal report renders whatever was found


FEC_COLUMNS = list(FEC_COLUMN_NAMES)
fec_cell = {
    "JournalCode": st.sampled_from(["VE", "BQ", "AN", "OD ", "ve", ""]),
    "EcritureNum": st.sampled_from(["1", "2", "0", "", "x"]),
    "EcritureDate": st.one_of(st.sampled_from(["20250115", "20251301", "99991231"]), date_text),
    "CompteNum": st.sampled_from(["411000", "41100", "706000", "512000", "411", ""]),
    "CompAuxNum": st.one_of(st.sampled_from(["C1", "C2", "", "C" * 41]), st.text(max_size=5)),
    "CompAuxLib": st.one_of(st.sampled_from(["Martin", "RECETTE CB", "", "N" * 201]), cell),
    "PieceRef": st.sampled_from(["F1", "F2", "AN", "", "F" * 70]),
    "PieceDate": st.one_of(st.just(""), date_text),
    "Debit": st.one_of(st.sampled_from(["120,00", "0,00", "", "15000000,00"]), amount_text),
    "Credit": st.one_of(st.sampled_from(["120,00", "0,00", "", "56,03"]), amount_text),
    "EcritureLet": st.sampled_from(["", "A", "AA"]),
}


@st.composite
def fec_files(draw) -> bytes:
    """A FEC (sometimes missing a column) of lines with plausible or odd cells, some cut."""
    columns = list(FEC_COLUMNS)
    if draw(st.integers(0, 9)) == 0:
        columns.remove(draw(st.sampled_from(columns)))
    lines = ["\t".join(columns)]
    for _ in range(draw(st.integers(0, 8))):
        cells = [draw(fec_cell.get(name, st.just(""))) for name in columns]
        if draw(st.integers(0, 9)) == 0:
            cells = cells[: draw(st.integers(1, len(cells)))]
        lines.append("\t".join(cells))
    end = draw(line_end)
    return end.join(lines).encode(draw(st.sampled_from(["utf-8", "cp850"])), errors="replace")


@FILE_SETTINGS
@given(data=fec_files())
def test_any_fec_import_reports_in_french_with_lines_and_writes_nothing_when_refused(
    engine, tmp_path_factory, data
):
    path = tmp_path_factory.mktemp("fuzz") / "fec.txt"
    path.write_bytes(data)
    before = row_counts(engine)
    report = do_import(engine, "fec", path)
    if report.refused:
        assert _is_french(report.refused), report.refused
    for issue in report.errors:
        assert issue.line is not None and issue.line >= 1, issue
        assert _is_french(issue.message), issue.message
    if not report.ok:
        assert row_counts(engine) == before
    "\n".join(report.lines())


@pytest.mark.parametrize(
    ("data", "line", "why"),
    [
        (
            b"Code client;" + b"x" * 200_000 + b"\nC1;M\n",
            1,
            "un champ dépasse 131\u202f072 caractères",
        ),
        (b"\n\r\x01", 2, "retour à la ligne (CR) isolé dans un champ sans guillemets"),
        (
            b"Code client;Nom\n\r0\n",
            2,
            "retour à la ligne (CR) isolé dans un champ sans guillemets",
        ),
    ],
)
def test_a_malformed_csv_is_refused_in_french_with_its_line(engine, tmp_path, data, line, why):
    """Found by the fuzzing above: the csv module's English (and, for the header, its
    exception) reached the person."""
    path = tmp_path / "clients.csv"
    path.write_bytes(data)
    before = row_counts(engine)
    report = do_import(engine, "debtors", path)
    assert report.refused == (
        f"Ligne {line} : CSV mal formé ({why}) ; vérifiez les guillemets et les séparateurs de "
        "cette ligne, ou enregistrez à nouveau le fichier en CSV depuis votre tableur."
    )
    assert row_counts(engine) == before


@pytest.mark.parametrize("number", [1.7976931348623157e306, -1e300, 2**70])
def test_a_number_too_large_for_an_integer_is_refused_in_french(number):
    """Found by the fuzzing above: ``round(1.8e306 * 100)`` raised OverflowError."""
    with pytest.raises(v.BadValue, match="Montant trop élevé"):
        v.cents(number, allow_negative=True)
