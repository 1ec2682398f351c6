"""Call scripts: complete, courteous, rendered with every value, never with a blank."""

import re

import pytest

from callcenter.domain.scripts import (
    NON_PAYMENT_REASONS,
    SCRIPT_FOR_SITUATION,
    SCRIPTS_DIR,
    ScriptValueMissing,
    available_scripts,
    choose_situation,
    render_script,
)

BRIEF = {
    "agent": {"first_name": "Léa", "last_name": "Martin"},
    "greeting": "Bonjour Madame Petit",
    "company": {"name": "Exemple SAS"},
    "debtor": {"name": "Boulangerie Durand SARL", "account_code": "411C00042"},
    "contact": {"name": "Mme Claire Petit", "role": "Comptabilité fournisseurs"},
    "invoice": {
        "number": "FA-2026-000123",
        "issue_date": "02/09/2026",
        "due_date": "02/10/2026",
        "amount": "1 250,50 €",
        "open_amount": "1 250,50 €",
    },
    "target_amount": "3 480,00 €",
    "overdue_amount": "2 980,00 €",
    "overdue_count_text": "3 factures échues",
    "promise": {"amount": "1 000,00 €", "date": "15/11/2026"},
    "dispute": {
        "category": "qualité",
        "opened_on": "05/11/2026",
        "description": "palettes livrées abîmées",
    },
    "callback_number": "01 99 00 12 34",
    "history": {"spoken": True, "written": True},
}

PRESSURE_WORDS = re.compile(
    r"menace|huissier|poursuite|saisie|tribunal|dernier avertissement|immédiatement|sinon nous",
    re.IGNORECASE,
)


def test_one_script_per_situation_exists():
    assert set(available_scripts()) == set(SCRIPT_FOR_SITUATION.values())


@pytest.mark.parametrize("code", sorted(SCRIPT_FOR_SITUATION.values()))
def test_every_script_renders_with_the_brief_and_leaves_no_placeholder(code):
    script = render_script(code, BRIEF)
    texts = [script.goal] + [s.text for s in script.steps + script.conclusion]
    texts += [b.text for b in script.branches.values()]
    for text in texts:
        assert "{{" not in text and "}}" not in text
        assert "inconnu]" not in text
    assert "Léa Martin" in script.steps[0].text
    assert "Exemple SAS" in script.steps[0].text


@pytest.mark.parametrize("code", sorted(set(SCRIPT_FOR_SITUATION.values()) - {"message_repondeur"}))
def test_conversation_scripts_follow_the_good_practice(code):
    script = render_script(code, BRIEF)
    assert set(script.branches) == set(NON_PAYMENT_REASONS), "une branche par motif de retard"
    opening = " ".join(s.text for s in script.steps[:2])
    assert "en charge du règlement" in opening or "s'occupe du règlement" in opening
    conclusion = " ".join(s.text for s in script.conclusion)
    assert "e-mail" in conclusion, "le script annonce l'e-mail récapitulatif"
    whole = " ".join(
        [s.text for s in script.steps + script.conclusion]
        + [b.text for b in script.branches.values()]
    )
    assert not PRESSURE_WORDS.search(whole), PRESSURE_WORDS.search(whole)


def test_voicemail_gives_no_amount():
    script = render_script("message_repondeur", BRIEF)
    assert "€" not in " ".join(s.text for s in script.steps)


def test_a_missing_value_is_an_error_in_strict_mode():
    brief = {key: value for key, value in BRIEF.items() if key != "contact"}
    with pytest.raises(ScriptValueMissing, match="valeur manquante"):
        render_script("premiere_relance", brief)


def test_lenient_mode_shows_a_visible_marker_instead_of_a_blank():
    brief = {key: value for key, value in BRIEF.items() if key != "target_amount"}
    script = render_script("premiere_relance", brief, strict=False)
    assert "[target_amount inconnu]" in script.goal


@pytest.mark.parametrize(
    ("stage", "broken", "disputed", "expected"),
    [
        ("preventive_call", False, False, "preventive_call"),
        ("first_call", False, False, "first_call"),
        (None, False, False, "first_call"),
        ("second_call", False, False, "second_call"),
        ("formal_notice", False, False, "second_call"),
        ("first_call", True, False, "broken_promise"),
        ("second_call", False, True, "dispute_follow_up"),
        ("preventive_call", True, True, "broken_promise"),
    ],
)
def test_script_choice(stage, broken, disputed, expected):
    assert (
        choose_situation(stage=stage, has_broken_promise=broken, only_disputed_left=disputed)
        == expected
    )


def test_scripts_folder_is_inside_the_project():
    assert SCRIPTS_DIR.name == "scripts_appel"
    assert (SCRIPTS_DIR / "LISEZMOI.md").exists()


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ({"spoken": True, "written": False}, "Nous avons déjà pris contact avec vous"),
        ({"spoken": False, "written": True}, "Nous vous avons écrit au sujet de"),
        ({"spoken": False, "written": False}, "Je vous appelle au sujet de"),
    ],
)
def test_the_second_call_script_says_only_what_the_history_holds(history, expected):
    script = render_script("deuxieme_relance", {**BRIEF, "history": history})
    texts = " ".join([script.goal] + [step.text for step in script.steps])
    assert expected in texts
    if not history["spoken"]:
        assert "déjà pris contact" not in texts and "malgré une première relance" not in texts


def test_a_broken_promise_is_said_confirmed_in_writing_only_when_something_left():
    silent = render_script(
        "promesse_non_tenue", {**BRIEF, "history": {"spoken": True, "written": False}}
    )
    assert "confirmé par écrit" not in silent.steps[1].text
    written = render_script("promesse_non_tenue", BRIEF)
    assert "confirmé par écrit" in written.steps[1].text


def test_the_agent_greets_by_civility_and_surname_and_says_who_calls():
    script = render_script("premiere_relance", BRIEF)
    assert script.steps[0].text.startswith(
        "Bonjour Madame Petit, ici Léa Martin, de la société Exemple SAS."
    )
    unknown = render_script("premiere_relance", {**BRIEF, "greeting": "Bonjour"})
    assert unknown.steps[0].text.startswith("Bonjour, ici Léa Martin, de la société")
