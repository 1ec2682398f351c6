"""Request sizes: ``[web] max_request_kib`` on every route, ``[web] max_upload_mib`` on the
import upload only; an oversized body is refused with 413 before it is read."""

from __future__ import annotations

import io

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from callcenter.web.request_size import MIB
from tests.conftest import make_settings
from tests.domain.imports_helpers import DEBTORS_CSV

UPLOAD_LIMIT_MIB = 3


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url, web={"max_upload_mib": UPLOAD_LIMIT_MIB})


def _debtors_file(size: int) -> bytes:
    """A valid debtors CSV padded with blank lines to ``size`` bytes."""
    content = DEBTORS_CSV.encode()
    return content + b"\n" * (size - len(content))


def _post_multipart(client, path: str, fields: dict, headers: dict | None = None):
    """Post a multipart body built in memory (the test client would spool a large one to a
    temporary file it never closes when the app refuses to read it)."""
    boundary, body = encode_multipart(fields)
    return client.post(
        path,
        data=body,
        headers=headers or {},
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def _upload(client, token, content: bytes):
    return _post_multipart(
        client,
        "/imports/verifier",
        {"kind": "debtors", "file": FileStorage(io.BytesIO(content), "clients.csv")},
        {"X-CSRFToken": token, "HX-Request": "true"},
    )


def test_an_oversized_anonymous_post_to_login_is_refused_before_the_csrf_check(client):
    response = _post_multipart(
        client,
        "/connexion",
        {"email": "x@exemple.fr", "piece": FileStorage(io.BytesIO(b"x" * 2 * MIB), "piece.bin")},
    )
    assert response.status_code == 413
    assert "Fichier trop volumineux" in response.get_data(as_text=True)


def test_an_import_file_larger_than_a_request_but_within_the_upload_limit_is_checked(client, login):
    _user, token = login("supervisor")
    response = _upload(client, token, _debtors_file(2 * MIB))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert "Simulation : rien n'a encore été enregistré." in response.get_data(as_text=True)


def test_an_import_file_over_the_upload_limit_is_refused(client, login):
    _user, token = login("supervisor")
    response = _upload(client, token, _debtors_file((UPLOAD_LIMIT_MIB + 1) * MIB))
    assert response.status_code == 413
    assert "Fichier trop volumineux" in response.get_data(as_text=True)


def test_other_routes_keep_the_request_limit_for_a_signed_in_user(client, login):
    _user, token = login("supervisor")
    response = _post_multipart(
        client,
        "/imports/correspondances/1",
        {"piece": FileStorage(io.BytesIO(b"x" * 2 * MIB), "piece.bin")},
        {"X-CSRFToken": token},
    )
    assert response.status_code == 413
