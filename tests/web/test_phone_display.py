"""Phone numbers as people read them: French national format on every page (E.164 in storage)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from callcenter.db import session_scope
from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.domain.queue import refresh_all, sync_ladder
from callcenter.models import utcnow
from tests.conftest import make_settings
from tests.factories import make_call, make_contact, make_debtor, make_invoice
from tests.web.test_workspace import ALWAYS_OPEN

E164 = re.compile(r"\+\d{6,}")


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url, queue=ALWAYS_OPEN)


@pytest.fixture
def debtor_with_phones(app, settings):
    engine = app.extensions["callcenter"].engine
    with session_scope(engine) as session:
        sync_default_dispositions(session)
        sync_ladder(session, settings=settings)
        debtor = make_debtor(session, name="Numéros SARL")
        billing = make_contact(
            session,
            debtor,
            full_name="Anne Paie",
            phone="+33465713803",
            mobile="+33612345678",
            is_billing=True,
        )
        make_contact(
            session,
            debtor,
            full_name="Bruno Seul",
            phone=None,
            mobile="+33798765432",
            is_billing=False,
        )
        make_invoice(session, debtor, due_date=date.today() - timedelta(days=20))
        call = make_call(
            session,
            debtor,
            contact_id=billing.id,
            to_number="+33465713803",
            from_number="+33180000000",
            at=utcnow() - timedelta(days=10),
        )
        refresh_all(session, now=utcnow(), settings=settings)
        return debtor.id, call.id


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+33465713803", "04 65 71 38 03"),
        ("+33612345678", "06 12 34 56 78"),
        ("+590590123456", "0590 12 34 56"),
        ("+3225551234", "+32 2 555 12 34"),
        ("0465713803", "04 65 71 38 03"),
        ("pas un numéro", "pas un numéro"),
        (None, ""),
    ],
)
def test_one_formatter_shows_phones_in_french(stored, shown):
    from callcenter.formatting import phone

    assert phone(stored) == shown


def _visible(html: str) -> str:
    """The text a person reads: no attributes, no scripts."""
    html = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    return re.sub(r"<[^>]*>", " ", html)


def test_the_agent_brief_shows_national_numbers(client, login, debtor_with_phones):
    _agent, token = login("agent")
    html = client.post(
        "/agent/suivant", headers={"HX-Request": "true", "X-CSRFToken": token}
    ).get_data(as_text=True)
    text = _visible(html)
    assert "Numéros SARL" in text
    assert "04 65 71 38 03" in text and "06 12 34 56 78" in text and "07 98 76 54 32" in text
    assert not E164.search(text), E164.findall(text)
    assert not re.search(r"<br>\s*·", html), "no orphan separator before a lone mobile"


def test_supervisor_pages_show_national_numbers(client, login, debtor_with_phones):
    debtor_id, call_id = debtor_with_phones
    login("supervisor")
    for url, expected in (
        (f"/supervision/cockpit/debiteurs/{debtor_id}", "04 65 71 38 03"),
        (f"/telephonie/?debtor_id={debtor_id}", "04 65 71 38 03"),
        (f"/telephonie/appels/{call_id}", "01 80 00 00 00"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        text = _visible(response.get_data(as_text=True))
        assert expected in text, url
        assert not E164.search(text), (url, E164.findall(text))


def test_the_voicemail_script_reads_the_callback_number_in_french(
    client, login, debtor_with_phones
):
    _agent, token = login("agent")
    html = client.post(
        "/agent/suivant", headers={"HX-Request": "true", "X-CSRFToken": token}
    ).get_data(as_text=True)
    debtor_id = re.search(r'data-debtor-id="(\d+)"', html).group(1)
    script = client.get(
        f"/agent/dossier/{debtor_id}/script?script=message_repondeur",
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "rappeler au 01 99 00 00 00" in script
    assert "+33199000000" not in script
