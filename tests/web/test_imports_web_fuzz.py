"""The upload path under fuzzing: malformed files of every kind posted to the import check
give a French page (200 or 422), never a 500, and leave no upload that no batch names.

Bounded for the everyday run; a longer run:
``CALLCENTER_FUZZ_EXAMPLES=5000 python -m pytest tests/web/test_imports_web_fuzz.py``.
"""

from __future__ import annotations

import io
import zipfile

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.domain.imports import IMPORT_KINDS
from callcenter.domain.imports.fec import FEC_COLUMNS
from tests.domain.test_imports_fuzz import EXAMPLES
from tests.web.test_imports_web import _upload

WEB_EXAMPLES = max(EXAMPLES // 10, 20)
WEB_SETTINGS = settings(
    max_examples=WEB_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["C1", "F-1", "12,50", "1.234,5", "31/12/9999", "2024-01-15junk", '"', ""]),
    st.text(st.sampled_from(list('0123456789,.;\t|\r\n"\x00é€')), max_size=10),
)
HEADERS = [
    ["Code client", "Raison sociale"],
    ["Code client", "N° facture", "Date facture", "Échéance", "Montant TTC"],
    ["Code client", "Référence", "Date de règlement", "Montant"],
    list(FEC_COLUMNS),
]


@st.composite
def table_text(draw) -> bytes:
    separator = draw(st.sampled_from([";", ",", "\t", "|"]))
    header = draw(st.sampled_from(HEADERS))
    rows = draw(st.lists(st.lists(CELL, max_size=len(header) + 2), max_size=6))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r", "\r\r\n"]))
    text = newline.join(separator.join(cells) for cells in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "cp850", "utf-16"]))
    return text.encode(encoding, errors="replace")


@st.composite
def broken_zip(draw) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            draw(st.sampled_from(["xl/worksheets/sheet1.xml", "[Content_Types].xml", "x.txt"])),
            draw(st.binary(max_size=200)),
        )
    data = buffer.getvalue()
    return data[: draw(st.integers(4, len(data)))]


FILES = st.one_of(
    table_text(),
    broken_zip(),
    st.binary(max_size=300),
    st.builds(lambda b: b"PK\x03\x04" + b, st.binary(max_size=200)),
)


def _uploads_not_named_by_a_batch(app) -> list[str]:
    engine = app.extensions["callcenter"].engine
    with engine.connect() as connection:
        named = set(
            connection.execute(
                sa.text("SELECT stored_path FROM import_batches WHERE stored_path IS NOT NULL")
            ).scalars()
        )
    folder = app.extensions["callcenter"].settings.uploads_path
    return [str(path) for path in folder.iterdir() if str(path) not in named]


def test_malformed_uploads_never_give_a_500_nor_leave_an_orphan_file(app, client, login):
    _user, token = login("supervisor")

    @WEB_SETTINGS
    @given(
        content=FILES,
        kind=st.sampled_from(IMPORT_KINDS),
        suffix=st.sampled_from([".csv", ".txt", ".xlsx"]),
    )
    def check(content, kind, suffix):
        response = _upload(client, token, kind, f"fichier{suffix}", content)
        html = response.get_data(as_text=True)
        assert response.status_code in (200, 422), html[:2000]
        assert "Traceback" not in html
        assert _uploads_not_named_by_a_batch(app) == []

    check()


def test_an_upload_whose_check_fails_unexpectedly_is_not_left_behind(
    app, client, login, monkeypatch
):
    """Whatever breaks while checking, the saved upload goes: no batch would ever name it."""
    _user, token = login("supervisor")

    def broken(*_args, **_kwargs):
        raise RuntimeError("panne simulée")

    monkeypatch.setattr("callcenter.web.imports.run_import", broken)
    with pytest.raises(RuntimeError):
        _upload(client, token, "debtors", "clients.csv", b"Code client;Nom\nC1;M\n")
    assert list(app.extensions["callcenter"].settings.uploads_path.iterdir()) == []
