"""French understanding of what the debtor says: amounts, dates, disputes, answering machines."""

from datetime import date

import pytest

from callcenter.config import SpeechSettings
from callcenter.domain.speech.understanding import amounts_in, date_in, phrase_in, suggest

TODAY = date(2026, 11, 23)  # a Monday
SPEECH = SpeechSettings()


@pytest.mark.parametrize(
    ("sentence", "cents"),
    [
        ("je vous fais un virement de mille deux cent cinquante euros", [125000]),
        ("on peut vous régler trois cents euros et cinquante centimes", [30050]),
        ("deux mille euros maintenant et le reste le mois prochain", [200000]),
        ("quatre cent quatre-vingt-dix-neuf euros quatre-vingt-dix", [49990]),
        ("je vous envoie 1 200,50 € demain", [120050]),
        ("cinq cents euros puis mille euros", [50000, 100000]),
        ("on a bien reçu la facture numéro deux cent douze", []),
    ],
)
def test_french_amounts_become_cents(sentence, cents):
    assert amounts_in(sentence) == cents


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("le virement partira le quinze décembre", date(2026, 12, 15)),
        ("on vous paie le premier décembre", date(2026, 12, 1)),
        ("je pense régler le trente et un janvier", date(2027, 1, 31)),
        ("on paiera fin du mois", date(2026, 11, 30)),
        ("plutôt fin du mois prochain", date(2026, 12, 31)),
        ("je vous règle sous huitaine", date(2026, 12, 1)),
        ("sous quinzaine sans faute", date(2026, 12, 8)),
        ("la semaine prochaine c'est possible", date(2026, 11, 30)),
        ("vendredi au plus tard", date(2026, 11, 27)),
        ("lundi prochain", date(2026, 11, 30)),
        ("dans trois jours", date(2026, 11, 26)),
        ("dans deux semaines", date(2026, 12, 7)),
        ("demain matin", date(2026, 11, 24)),
        ("après-demain", date(2026, 11, 25)),
        ("le dix je pourrai", date(2026, 12, 10)),
        ("le 28/11", date(2026, 11, 28)),
        ("le dix janvier, enfin non, fin du mois", date(2027, 1, 10)),
        ("je ne sais pas encore quand", None),
    ],
)
def test_french_dates_become_days(sentence, expected):
    assert date_in(sentence, today=TODAY) == expected


@pytest.mark.parametrize(
    ("sentence", "phrase"),
    [
        ("Écoutez, on n'a jamais reçu cette facture", "jamais reçu"),
        ("On conteste le montant de la prestation", "on conteste"),
        ("la marchandise est arrivée abimée", "abîmé"),
        ("il y a une erreur de facturation sur la remise", "erreur de facturation"),
        ("C’est un litige avec votre commercial", "litige"),
        ("tout est conforme, on paiera", None),
    ],
)
def test_dispute_words_are_found_whatever_the_accents(sentence, phrase):
    assert phrase_in(sentence, SPEECH.dispute_phrases) == phrase


def test_a_promise_is_suggested_with_its_amount_date_and_the_sentences():
    found = suggest(
        [
            "oui bonjour c'est madame Dupont",
            "je peux vous faire un virement de mille deux cent cinquante euros",
            "le quinze décembre si ça vous va",
        ],
        today=TODAY,
        dispute_phrases=SPEECH.dispute_phrases,
        answering_machine_phrases=SPEECH.answering_machine_phrases,
    )
    assert [item.kind for item in found] == ["promise"]
    promise = found[0]
    assert (promise.amount_cents, promise.promised_on) == (125000, date(2026, 12, 15))
    assert promise.amount_field == "1250,00"
    assert promise.disposition == "promise"
    assert "15/12/2026" in promise.label
    assert "mille deux cent cinquante" in promise.evidence


def test_a_dispute_and_an_answering_machine_are_suggested_never_applied():
    machine = suggest(
        ["Bonjour, vous êtes bien sur la messagerie de la société Martin, laissez un message"],
        today=TODAY,
        dispute_phrases=SPEECH.dispute_phrases,
        answering_machine_phrases=SPEECH.answering_machine_phrases,
    )
    assert [(item.kind, item.disposition) for item in machine] == [("voicemail", "voicemail")]
    dispute = suggest(
        ["nous n'avons pas reçu la livraison complète", "on conteste cette facture"],
        today=TODAY,
        dispute_phrases=SPEECH.dispute_phrases,
        answering_machine_phrases=SPEECH.answering_machine_phrases,
    )
    assert [item.kind for item in dispute] == ["dispute"]
    assert "pas reçu" in dispute[0].label


def test_nothing_is_suggested_from_small_talk():
    assert (
        suggest(
            ["bonjour", "oui je vous écoute", "d'accord merci au revoir"],
            today=TODAY,
            dispute_phrases=SPEECH.dispute_phrases,
            answering_machine_phrases=SPEECH.answering_machine_phrases,
        )
        == []
    )
