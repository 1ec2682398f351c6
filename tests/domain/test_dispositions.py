from sqlmodel import select

from callcenter.domain.dispositions import (
    DEFAULT_DISPOSITIONS,
    active_dispositions,
    sync_default_dispositions,
)
from callcenter.models import Disposition

EXPECTED_LABELS = [
    "Promesse de paiement",
    "Échéancier accepté",
    "Litige",
    "Rappel demandé",
    "Déjà payé",
    "Mauvais interlocuteur",
    "Faux numéro",
    "Répondeur",
    "Pas de réponse",
    "Refus de payer",
    "Facture non reçue",
    "Ne plus appeler",
]


def test_default_catalogue_is_inserted_once_in_order(session):
    assert sync_default_dispositions(session) == len(DEFAULT_DISPOSITIONS)
    assert sync_default_dispositions(session) == 0
    assert [d.label for d in active_dispositions(session)] == EXPECTED_LABELS


def test_an_administrators_change_survives_a_resync(session):
    sync_default_dispositions(session)
    voicemail = session.exec(select(Disposition).where(Disposition.code == "voicemail")).one()
    voicemail.label = "Messagerie vocale"
    voicemail.active = False
    session.flush()
    sync_default_dispositions(session)
    labels = [d.label for d in active_dispositions(session)]
    assert "Répondeur" not in labels and "Messagerie vocale" not in labels


def test_flags_drive_the_recap_and_the_outcome_form():
    by_code = {d.code: d for d in DEFAULT_DISPOSITIONS}
    assert by_code["promise"].is_promise and by_code["promise"].recap_template == "promise"
    assert by_code["payment_plan"].is_payment_plan
    assert by_code["dispute"].is_dispute and by_code["dispute"].recap_template == "dispute"
    assert by_code["callback"].is_callback
    assert by_code["wrong_number"].recap_template is None
    assert by_code["do_not_call"].is_do_not_call and by_code["do_not_call"].recap_template is None
    assert by_code["invoice_not_received"].recap_template == "invoice_resend"
    assert not by_code["no_answer"].human_answered
