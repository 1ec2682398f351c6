"""Pressure phrases on the agent's channel flag the call for the supervisor, once each."""

from sqlmodel import select

from callcenter.config import SpeechSettings
from callcenter.domain.speech.respect import flag_pressure, pressure_hits, time_label
from callcenter.domain.timeline import describe_events
from callcenter.models import Call, Event, utcnow
from tests.factories import make_call, make_debtor, make_user

PHRASES = SpeechSettings().pressure_phrases


def test_only_listed_phrases_are_hits_with_their_time():
    hits = pressure_hits(
        [
            ("bonjour madame je vous appelle pour la facture", 1.0),
            ("si vous ne payez pas on envoie l'Huissier", 75.42),
            ("c'est votre dernier avertissement", 90.0),
            ("je comprends, prenons un échéancier", 120.0),
        ],
        phrases=PHRASES,
    )
    assert [(hit.phrase, hit.at_seconds) for hit in hits] == [
        ("huissier", 75.4),
        ("dernier avertissement", 90.0),
    ]
    assert time_label(75.4) == "1 min 15 s"
    assert time_label(9) == "9 s"


def test_a_hit_flags_the_call_with_the_sentence_once(session):
    agent = make_user(session)
    debtor = make_debtor(session)
    call = make_call(session, debtor, agent_id=agent.id)
    sentences = [("vous allez le regretter croyez-moi", 42.0), ("merci au revoir", 50.0)]
    new = flag_pressure(
        session,
        call_id=call.id,
        sentences=sentences,
        phrases=PHRASES,
        source="transcript",
        now=utcnow(),
    )
    again = flag_pressure(
        session, call_id=call.id, sentences=sentences, phrases=PHRASES, source="live", now=utcnow()
    )
    session.commit()
    assert [hit.phrase for hit in new] == ["vous allez le regretter"]
    assert again == []
    assert session.get(Call, call.id).flagged is True
    events = session.exec(select(Event).where(Event.type == "call.flagged")).all()
    assert len(events) == 1
    assert events[0].payload["sentence"] == "vous allez le regretter croyez-moi"
    assert events[0].payload["at_seconds"] == 42.0
    assert events[0].actor_id == agent.id
    entry = describe_events(session, debtor_id=debtor.id, limit=5)[0]
    assert entry.title == "Appel signalé au superviseur"
    assert "42 s" in entry.detail and "vous allez le regretter" in entry.detail


def test_a_polite_call_is_not_flagged(session):
    debtor = make_debtor(session)
    call = make_call(session, debtor)
    assert (
        flag_pressure(
            session,
            call_id=call.id,
            sentences=[("pouvez-vous me dire quand le paiement partira", 3.0)],
            phrases=PHRASES,
            source="transcript",
            now=utcnow(),
        )
        == []
    )
    assert session.get(Call, call.id).flagged is False
