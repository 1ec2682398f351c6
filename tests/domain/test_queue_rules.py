"""Rule tables of the queue: every score component, every exclusion, the ladder stages.

Each case builds one debtor, refreshes it set-based in SQL and checks the row; ``refreshed``
also checks the pure-Python reference gives the same score, reasons and exclusions.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from callcenter.domain.queue import load_ladder, rules, sync_ladder
from callcenter.domain.queue import refresh as refresh_module
from callcenter.domain.queue.rules import exclusion_labels, reason_lines
from callcenter.models import Campaign, QueueState, Scenario, ScenarioStep
from tests.conftest import make_settings
from tests.domain.queue_helpers import NOW, TODAY, refreshed
from tests.factories import (
    make_call,
    make_callback,
    make_contact,
    make_debtor,
    make_email,
    make_invoice,
    make_promise,
)

NBSP = "\u202f"
NBSP_EURO = "\xa0"


def base(session, *, days_overdue=20, amount_cents=100_000, contact=True, **debtor_fields):
    debtor = make_debtor(session, **debtor_fields)
    if contact:
        make_contact(session, debtor)
    if days_overdue is not None:
        make_invoice(
            session,
            debtor,
            due_date=TODAY - timedelta(days=days_overdue),
            amount_cents=amount_cents,
        )
    return debtor


def reached_call(session, debtor, days_ago):
    at = NOW - timedelta(days=days_ago)
    return make_call(session, debtor, at=at, answered_at=at, answered_by="human")


SCORE_CASES = {
    "amount_log_scaled": (
        lambda s: base(s, amount_cents=123_456),
        28,
        f"1{NBSP}234,56{NBSP_EURO}€ échus non contestés",
    ),
    "age_of_oldest": (lambda s: base(s, days_overdue=20), 10, "1 facture échue depuis 20 j"),
    "age_capped": (lambda s: base(s, days_overdue=200), 60, "1 facture échue depuis 200 j"),
    "two_invoices": (
        lambda s: (d := base(s, days_overdue=30), make_invoice(s, d, due_date=TODAY))[0],
        15,
        "1 facture échue depuis 30 j",
    ),
    "broken_promises": (
        lambda s: (
            d := base(s),
            make_promise(s, d, status="broken"),
            make_promise(s, d, status="broken"),
        )[0],
        30,
        "2 promesses non tenues",
    ),
    "promise_due_today": (
        lambda s: (d := base(s), make_promise(s, d, promised_date=TODAY))[0],
        25,
        "promesse de paiement attendue aujourd'hui",
    ),
    "callback_due": (
        lambda s: (d := base(s), make_callback(s, d, due_at=NOW - timedelta(minutes=5)))[0],
        1000,
        "rappel convenu arrivé à échéance",
    ),
    "never_reached": (lambda s: base(s), 10, "jamais joint au téléphone"),
    "never_called": (lambda s: base(s), 30, "jamais appelé"),
    "days_since_last_call": (
        lambda s: (d := base(s), reached_call(s, d, 3))[0],
        3,
        "dernier appel il y a 3 j",
    ),
    "segment_key_account": (
        lambda s: base(s, segment="key_account", days_overdue=30),
        15,
        "segment grand compte",
    ),
    "segment_small": (lambda s: base(s, segment="small"), -5, "segment petit compte"),
    "risk": (lambda s: base(s, risk=55), 11, "risque 55/100"),
    "attempts_today": (
        lambda s: (
            d := base(s),
            make_call(s, d, at=NOW - timedelta(hours=1)),
            make_call(s, d, at=NOW - timedelta(minutes=30)),
        )[0],
        -40,
        "2 tentatives aujourd'hui",
    ),
}


@pytest.mark.parametrize("case", SCORE_CASES, ids=list(SCORE_CASES))
def test_score_component(session, settings, case):
    build, points, label = SCORE_CASES[case]
    debtor = build(session)
    item = refreshed(session, debtor, settings)
    assert {"points": points, "label": label} in reason_lines(item.reasons)
    assert item.score == sum(r["points"] for r in item.reasons)


def test_reached_debtor_has_no_never_reached_points(session, settings):
    debtor = base(session)
    reached_call(session, debtor, 2)
    labels = [r["label"] for r in reason_lines(refreshed(session, debtor, settings).reasons)]
    assert "jamais joint au téléphone" not in labels
    assert "jamais appelé" not in labels


def test_weights_come_from_settings(session, tmp_path, database_url):
    settings = make_settings(tmp_path, database_url, queue={"points_per_risk": 1.0})
    debtor = base(session, risk=30)
    lines = reason_lines(refreshed(session, debtor, settings).reasons)
    assert {"points": 30, "label": "risque 30/100"} in lines


def test_callback_due_comes_first(session, settings):
    big = base(session, amount_cents=90_000_000, risk=100, days_overdue=100)
    small = base(session, amount_cents=10_000)
    make_callback(session, small, due_at=NOW - timedelta(minutes=1))
    assert refreshed(session, small, settings).score > refreshed(session, big, settings).score


EXCLUSION_CASES = {
    "do_not_call": (lambda s: base(s, do_not_call=True), "Ne pas appeler : opposition enregistrée"),
    "insolvency": (
        lambda s: base(s, insolvency_status="redressement judiciaire"),
        "Procédure collective en cours (redressement judiciaire) : relances suspendues",
    ),
    "weekly_cap": (
        lambda s: (
            d := base(s),
            *[make_call(s, d, at=NOW - timedelta(days=k, hours=5)) for k in (1, 3, 6)],
        )[0],
        "Plafond atteint : 3 tentatives sur 7 jours glissants (max. 3)",
    ),
    "min_gap": (
        lambda s: (d := base(s), make_call(s, d, at=NOW - timedelta(hours=2)))[0],
        "Dernière tentative il y a moins de 4 h",
    ),
    "all_disputed": (
        lambda s: (d := base(s, days_overdue=None), make_invoice(s, d, disputed=True))[0],
        "Toutes les factures ouvertes sont contestées ou suspendues",
    ),
    "all_paused": (
        lambda s: (
            d := base(s, days_overdue=None),
            make_invoice(s, d, paused_until=TODAY + timedelta(days=1)),
        )[0],
        "Toutes les factures ouvertes sont contestées ou suspendues",
    ),
    "nothing_open": (lambda s: base(s, days_overdue=None), "Aucune facture ouverte"),
    "no_phone": (
        lambda s: (d := base(s, contact=False), make_contact(s, d, phone=None, mobile=None))[0],
        "Aucun numéro de téléphone",
    ),
    "stage_email": (
        lambda s: base(s, days_overdue=5),
        "Étape « 1er e-mail de relance » : pas d'appel à ce stade",
    ),
    "stage_key_account_waits": (
        lambda s: base(s, days_overdue=20, segment="key_account"),
        "Étape « 2e e-mail de relance » : pas d'appel à ce stade",
    ),
    "stage_none_far_future": (
        lambda s: (
            d := base(s, days_overdue=None),
            make_invoice(s, d, due_date=TODAY + timedelta(days=30)),
        )[0],
        "Aucune facture à relancer à ce stade",
    ),
    "callback_later": (
        lambda s: (d := base(s), make_callback(s, d, due_at=NOW + timedelta(days=1)))[0],
        "Rappel convenu plus tard : pas d'appel avant l'heure prévue",
    ),
}


@pytest.mark.parametrize("case", EXCLUSION_CASES, ids=list(EXCLUSION_CASES))
def test_exclusion(session, settings, case):
    build, reason = EXCLUSION_CASES[case]
    item = refreshed(session, build(session), settings)
    assert item.state == QueueState.EXCLUDED
    assert reason in exclusion_labels(item.exclusion_reasons)


ELIGIBLE_CASES = {
    "plain_overdue": lambda s: base(s),
    "paused_in_the_past": lambda s: (
        d := base(s, days_overdue=None),
        make_invoice(s, d, due_date=TODAY - timedelta(days=20), paused_until=TODAY),
    )[0],
    "mobile_only": lambda s: (
        d := base(s, contact=False),
        make_contact(s, d, phone=None, mobile="+33639980001"),
    )[0],
    "two_calls_in_week": lambda s: (
        d := base(s),
        *[make_call(s, d, at=NOW - timedelta(days=k)) for k in (2, 8, 9)],
    )[0],
    "gap_elapsed": lambda s: (
        d := base(s),
        make_call(s, d, at=NOW - timedelta(hours=4, minutes=1)),
    )[0],
    "one_disputed_one_not": lambda s: (d := base(s), make_invoice(s, d, disputed=True))[0],
    "key_account_at_first_call": lambda s: base(s, days_overdue=26, segment="key_account"),
    "due_callback_beats_email_stage": lambda s: (
        d := base(s, days_overdue=3),
        make_callback(s, d, due_at=NOW - timedelta(hours=1)),
    )[0],
    "unknown_segment_follows_standard": lambda s: base(s, segment="export", days_overdue=16),
    "emails_not_counted_by_default": lambda s: (
        d := base(s),
        *[make_email(s, d, status="sent", sent_at=NOW - timedelta(days=1)) for _ in range(3)],
    )[0],
}


@pytest.mark.parametrize("case", ELIGIBLE_CASES, ids=list(ELIGIBLE_CASES))
def test_eligible(session, settings, case):
    item = refreshed(session, ELIGIBLE_CASES[case](session), settings)
    assert item.exclusion_reasons == []
    assert item.state == QueueState.READY


def test_cap_across_channels_counts_sent_emails(session, tmp_path, database_url):
    settings = make_settings(tmp_path, database_url, queue={"cap_across_channels": True})
    debtor = base(session)
    make_call(session, debtor, at=NOW - timedelta(days=2))
    make_email(session, debtor, status="sent", sent_at=NOW - timedelta(days=1))
    make_email(session, debtor, status="sent", sent_at=NOW - timedelta(days=3))
    make_email(session, debtor, status="pending", sent_at=None)
    item = refreshed(session, debtor, settings)
    assert "Plafond atteint : 3 tentatives sur 7 jours glissants (max. 3)" in (
        exclusion_labels(item.exclusion_reasons)
    )


def test_configured_cap_and_gap(session, tmp_path, database_url):
    settings = make_settings(
        tmp_path,
        database_url,
        queue={"max_attempts_per_week": 5, "min_hours_between_attempts": 1.5},
    )
    debtor = base(session)
    for k in range(4):
        make_call(session, debtor, at=NOW - timedelta(days=k, hours=2))
    assert refreshed(session, debtor, settings).state == QueueState.READY
    make_call(session, debtor, at=NOW - timedelta(hours=1))
    item = refreshed(session, debtor, settings)
    assert exclusion_labels(item.exclusion_reasons) == [
        "Plafond atteint : 5 tentatives sur 7 jours glissants (max. 5)",
        "Dernière tentative il y a moins de 1,5 h",
    ]


STAGE_CASES = {
    # name: (segment, days to due (negative: overdue), amount, expected stage, campaign code)
    "large_invoice_coming_due": (
        "standard",
        2,
        600_000,
        "J-3 Appel préventif (grosse facture)",
        "appel_preventif",
    ),
    "small_invoice_coming_due": (
        "standard",
        2,
        100_000,
        "J-10 E-mail préventif : tout est-il en o",
        None,
    ),
    "key_account_coming_due": ("key_account", 3, 10_000, "J-3 Appel préventif", "appel_preventif"),
    "due_today": ("small", 0, 900_000, "J-3 Appel préventif (grosse facture)", "appel_preventif"),
    "first_call": ("standard", -15, 10_000, "J+15 1er appel", "relance_telephone"),
    # Older debt with no history enters at the catch-up step (the first call), never at a
    # later call, a letter, a formal notice or litigation that nothing led to.
    "second_call_day_enters_at_first_call": (
        "standard",
        -25,
        10_000,
        "J+15 1er appel",
        "relance_telephone",
    ),
    "key_account_first_call": ("key_account", -25, 10_000, "J+25 1er appel", "relance_telephone"),
    "letter_day_enters_at_first_call": (
        "standard",
        -40,
        10_000,
        "J+15 1er appel",
        "relance_telephone",
    ),
    "litigation_day_enters_at_first_call": (
        "standard",
        -400,
        10_000,
        "J+15 1er appel",
        "relance_telephone",
    ),
}


@pytest.mark.parametrize("case", STAGE_CASES, ids=list(STAGE_CASES))
def test_stage_and_campaign(session, settings, case):
    segment, days_to_due, amount, stage, campaign_code = STAGE_CASES[case]
    debtor = base(session, days_overdue=None, segment=segment)
    make_invoice(session, debtor, due_date=TODAY + timedelta(days=days_to_due), amount_cents=amount)
    item = refreshed(session, debtor, settings)
    assert item.stage == stage
    campaign = session.get(Campaign, item.campaign_id) if item.campaign_id else None
    assert (campaign.code if campaign else None) == campaign_code


def test_a_late_debtor_walks_its_ladder_even_with_a_large_invoice_coming_due(session, settings):
    """One case per debtor: already at the first reminder email for the late invoice, it is
    not sent back to the preventive call of the next one."""
    debtor = base(session, days_overdue=3)
    make_invoice(session, debtor, due_date=TODAY + timedelta(days=1), amount_cents=700_000)
    item = refreshed(session, debtor, settings)
    assert item.stage == "J+1 1er e-mail de relance"
    assert item.state == QueueState.EXCLUDED


def test_disputed_and_paused_invoices_do_not_set_the_stage(session, settings):
    debtor = base(session, days_overdue=None)
    make_invoice(session, debtor, due_date=TODAY - timedelta(days=50), disputed=True)
    make_invoice(
        session,
        debtor,
        due_date=TODAY - timedelta(days=40),
        paused_until=TODAY + timedelta(days=3),
    )
    make_invoice(session, debtor, due_date=TODAY - timedelta(days=16), amount_cents=20_000)
    item = refreshed(session, debtor, settings)
    assert item.stage == "J+15 1er appel"
    assert {"points": 8, "label": "1 facture échue depuis 16 j"} in reason_lines(item.reasons)


def test_sync_ladder_is_idempotent(session, settings):
    sync_ladder(session, settings=settings)
    first = sorted(
        (s.scenario_id, s.offset_days, s.action, s.label, s.condition, s.campaign_id)
        for s in session.exec(select(ScenarioStep))
    )
    sync_ladder(session, settings=settings)
    second = sorted(
        (s.scenario_id, s.offset_days, s.action, s.label, s.condition, s.campaign_id)
        for s in session.exec(select(ScenarioStep))
    )
    assert first == second
    assert len(first) == 27
    assert {s.segment for s in session.exec(select(Scenario))} == {
        "standard",
        "key_account",
        "small",
    }
    assert len(session.exec(select(Campaign)).all()) == 2
    assert ("montant_min=500000") in {row[4] for row in first}


def test_sync_ladder_follows_edited_settings(session, tmp_path, database_url):
    sync_ladder(session, settings=make_settings(tmp_path, database_url))
    edited = make_settings(
        tmp_path,
        database_url,
        ladder={"small": [{"offset_days": 5, "action": "call", "label": "Appel direct"}]},
    )
    sync_ladder(session, settings=edited)
    small = session.exec(select(Scenario).where(Scenario.segment == "small")).one()
    steps = session.exec(select(ScenarioStep).where(ScenarioStep.scenario_id == small.id)).all()
    assert [(s.offset_days, s.action, s.label) for s in steps] == [(5, "call", "Appel direct")]
    debtor = base(session, segment="small", days_overdue=6)
    assert refreshed(session, debtor, edited).stage == "J+5 Appel direct"


@pytest.mark.parametrize("postgres", [False, True], ids=["sqlite", "postgresql"])
def test_the_refresh_sql_holds_codes_and_numbers_never_french(session, settings, postgres):
    """One source for the wording: the SQL writes codes, ``rules`` words them."""
    sync_ladder(session, settings=settings)
    params: dict = {}
    sql = refresh_module._text(
        load_ladder(session),
        {"Europe/Paris": "Hors plage d'appel : pas d'appel le dimanche"},
        refresh_module._Dialect(postgres),
        False,
        settings,
        params,
    )
    assert not re.search(r"[àâçéèêëîïôûùü«»€]", sql, re.IGNORECASE)
    emitted = set(re.findall(r'"code":"(\w+)"', sql))
    assert emitted == set(rules.SCORE_WORDING)
    excluded = set(re.findall(r"'\"(\w+)[:\"]", sql)) | {"closed"}
    assert excluded == set(rules.EXCLUSION_WORDING)


def test_every_stored_code_has_its_french_wording():
    assert rules.exclusion_label("weekly_cap:4/5") == (
        "Plafond atteint : 4 tentatives sur 7 jours glissants (max. 5)"
    )
    assert rules.exclusion_label("not_phone_stage:Lettre : relance") == (
        "Étape « Lettre : relance » : pas d'appel à ce stade"
    )
    assert rules.exclusion_label("Aucune facture ouverte") == "Aucune facture ouverte"
    lines = rules.reason_lines([rules.component("age", 12, 2, 40)])
    assert lines == [{"points": 12, "label": "2 factures échues depuis 40 j"}]
    with pytest.raises(KeyError):
        rules.exclusion("no_such_code")
