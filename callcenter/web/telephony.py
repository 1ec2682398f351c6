"""Telephony: the agent's softphone, the provider's webhooks and recording playback.

Three blueprints: ``telephony`` (agents and supervisors: token, calls, state,
simulator), ``twilio_webhooks`` (no session: every request must carry a valid
``X-Twilio-Signature`` computed on the configured public URL, else 403; CSRF
exempt), and ``recordings`` (supervisors and admins only). The simulator sends
its signed webhooks through ``_deliver``, which dispatches them through this
same app, so both adapters run the very same webhook code.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
)
from flask_login import current_user
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from callcenter.domain import calls as lifecycle
from callcenter.domain.accounts import AGENT_STATE_LABELS
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.timeline import describe
from callcenter.models import (
    AgentState,
    Call,
    Contact,
    Debtor,
    Disposition,
    Role,
    User,
)
from callcenter.providers.telephony import build_telephony
from callcenter.providers.telephony.base import (
    RecordingGone,
    TelephonyFailure,
    TelephonyProvider,
    TelephonyUnavailable,
    agent_from_identity,
    agent_identity,
)
from callcenter.providers.telephony.simulated import MAX_AUDIO_BYTES, OUTCOMES, SimulatedTelephony
from callcenter.web import clock, csrf, db, htmx, parse_id, state
from callcenter.web.agent import require_hold
from callcenter.web.auth import guard_blueprint
from callcenter.web.request_size import accepts_upload
from callcenter.web.speech import add_stream

log = logging.getLogger(__name__)

bp = Blueprint("telephony", __name__, url_prefix="/telephonie")
guard_blueprint(bp, Role.AGENT, Role.SUPERVISOR)

webhooks = Blueprint("twilio_webhooks", __name__, url_prefix="/twilio")
csrf.exempt(webhooks)

recordings = Blueprint("recordings", __name__, url_prefix="/enregistrements")
guard_blueprint(recordings, Role.SUPERVISOR, Role.ADMIN)

SIGNATURE_HEADER = "X-Twilio-Signature"
STATUS_EVENTS = "initiated ringing answered completed"
CONSENT_TEXT = (
    "Bonjour. Cet appel de {company} est susceptible d'être enregistré pour la qualité "
    "du service et la preuve de nos échanges. Vous pouvez vous y opposer en le disant "
    "simplement à votre interlocuteur."
)
SOFTPHONE_STATES = {
    "queued": "dialing",
    "initiated": "dialing",
    "ringing": "ringing",
    "in-progress": "in_call",
}


def telephony() -> TelephonyProvider:
    """The app's telephony adapter (injected through ``providers``, else built from settings)."""
    providers = state().providers
    provider = providers.get("telephony")
    if provider is None:
        provider = providers.setdefault("telephony", build_telephony(state().settings, clock()))
    if isinstance(provider, SimulatedTelephony) and provider.deliver is None:
        app = current_app._get_current_object()
        provider.bind(webhook_url=partial(_webhook_url, app), deliver=partial(_deliver, app))
    return provider


_WEBHOOK_ENDPOINTS = {
    "voice": "twilio_webhooks.voice",
    "status": "twilio_webhooks.status",
    "recording": "twilio_webhooks.recording",
    "consent": "twilio_webhooks.consent",
}


def _public_base_for(app: Flask) -> str:
    return app.extensions["callcenter"].settings.app.public_url.rstrip("/")


def _public_base() -> str:
    return _public_base_for(current_app)


def _absolute(app: Flask, endpoint: str, **values: Any) -> str:
    """The public URL of an endpoint: what Twilio requests, and what it signs."""
    return _public_base_for(app) + app.url_map.bind("localhost").build(endpoint, values)


def _webhook_url(app: Flask, kind: str, **values: Any) -> str:
    return _absolute(app, _WEBHOOK_ENDPOINTS[kind], **values)


def _deliver(app: Flask, url: str, params: dict[str, str], signature: str) -> int:
    """Dispatch a signed webhook through the app, as if Twilio had posted it over HTTP."""
    base = _public_base_for(app)
    if not url.startswith(base + "/"):
        raise TelephonyFailure(f"Adresse de webhook hors de l'application : {url}")
    with (
        app.app_context(),
        app.test_request_context(
            url[len(base) :],
            base_url=base,
            method="POST",
            data=params,
            headers={SIGNATURE_HEADER: signature},
        ),
    ):
        response = app.full_dispatch_request()
        return response.status_code


def _now() -> datetime:
    return clock().now()


def _lease() -> timedelta:
    return timedelta(minutes=state().settings.queue.lease_minutes)


def _wrap_up_seconds() -> int:
    return state().settings.workspace.wrap_up_seconds


def _json_error(message: str, status: int, errors: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": message, "errors": errors or {}})
    response.status_code = status
    return response


# --- softphone: state shared with the browser -------------------------------------------------


def _agent(session: Session) -> User:
    user = session.get(User, current_user.id)
    if user is None:
        abort(403)
    return user


def _call_payload(call: Call | None, user: User) -> dict[str, Any]:
    status = call.provider_status if call else None
    if call is None:
        softphone = "idle"
    elif lifecycle.is_terminal(call):
        softphone = "ended"
    else:
        softphone = SOFTPHONE_STATES.get(status or "", "dialing")
    return {
        "state": softphone,
        "callId": call.id if call else None,
        "status": status,
        "statusLabel": lifecycle.STATUS_LABELS.get(status or "", ""),
        "answeredBy": call.answered_by if call else None,
        "answeredByLabel": lifecycle.ANSWERED_BY_LABELS.get(call.answered_by or "", "")
        if call
        else "",
        "durationSeconds": call.duration_seconds if call else None,
        "agentState": user.agent_state,
        "agentStateLabel": AGENT_STATE_LABELS.get(user.agent_state, user.agent_state),
        "pauseCode": user.pause_code,
        "stateSince": user.state_since.isoformat() if user.state_since else None,
        "wrapUpSeconds": _wrap_up_seconds(),
        "wrapUpSecondsLeft": _wrap_up_seconds_left(user),
    }


def _wrap_up_seconds_left(user: User) -> int | None:
    """Seconds of wrap-up left by the server's clock: the browser counts down from this, so
    an agent's computer set a few minutes off never ends (or stretches) a wrap-up."""
    if user.agent_state != "wrap_up" or user.state_since is None:
        return None
    elapsed = (_now() - user.state_since).total_seconds()
    return max(0, round(_wrap_up_seconds() - elapsed))


def _own_call(session: Session, call_id: int) -> Call:
    """The call, if the signed-in agent placed it (a supervisor may look at any call)."""
    call = session.get(Call, call_id)
    if call is None:
        abort(404)
    if call.agent_id != current_user.id and not current_user.has_role(Role.SUPERVISOR):
        abort(404)
    return call


@bp.app_template_global("softphone_config")
def softphone_config() -> dict[str, Any]:
    """What the softphone partial needs, wherever it is included."""
    settings = state().settings
    provider = telephony()
    user = db().get(User, current_user.id) if current_user.is_authenticated else None
    return {
        "provider": provider.name,
        "recordings": settings.recordings.enabled,
        "pause_codes": lifecycle.PAUSE_CODES,
        "wrap_up_seconds": settings.workspace.wrap_up_seconds,
        "agent_state": user.agent_state if user else AgentState.OFFLINE,
        "agent_state_label": AGENT_STATE_LABELS.get(user.agent_state, "") if user else "",
        "outcomes": {
            "answered": "Décroche",
            "no-answer": "Pas de réponse",
            "voicemail": "Répondeur",
            "busy": "Occupé",
            "failed": "Échec",
        },
    }


@bp.get("/")
def softphone_page():
    """A page with the softphone alone, for a debtor the agent holds (a supervisor: any debtor);
    its contacts and numbers are shown to no one else."""
    session = db()
    debtor_id = parse_id(request.args.get("debtor_id"))
    if debtor_id is not None and not current_user.has_role(Role.SUPERVISOR):
        require_hold(session, debtor_id, _now())
    debtor = session.get(Debtor, debtor_id) if debtor_id else None
    contacts = (
        session.exec(select(Contact).where(Contact.debtor_id == debtor.id)).all() if debtor else []
    )
    contact_id = parse_id(request.args.get("contact_id"))
    if contact_id not in {contact.id for contact in contacts}:
        contact_id = contacts[0].id if contacts else None
    return render_template(
        "telephony/softphone.html",
        debtor=debtor,
        contacts=contacts,
        debtor_id=debtor.id if debtor else None,
        contact_id=contact_id,
    )


@bp.get("/jeton")
def access_token():
    """A short-lived Voice token for the signed-in agent's softphone."""
    try:
        grant = telephony().access_token(identity=agent_identity(current_user.id))
    except TelephonyUnavailable as unavailable:
        return _json_error(unavailable.message, 409)
    return jsonify({"token": grant.token, "identity": grant.identity, "ttl": grant.ttl_seconds})


@bp.get("/etat")
def agent_state():
    session = db()
    user = _agent(session)
    return jsonify(_call_payload(lifecycle.open_call(session, agent_id=user.id), user))


@bp.post("/etat")
def change_state():
    """The agent chooses: disponible, en pause (with a reason) or hors ligne."""
    session = db()
    try:
        user = lifecycle.change_own_state(
            session,
            user_id=current_user.id,
            state=request.form.get("state", ""),
            pause_code=request.form.get("pause_code"),
            now=_now(),
        )
    except ValidationFailed as failed:
        session.rollback()
        return _json_error(failed.message, 422, failed.errors)
    except DomainError as refused:
        session.rollback()
        return _json_error(refused.message, 409)
    session.commit()
    return jsonify(_call_payload(None, user))


@bp.post("/post-appel/fin")
def end_wrap_up():
    session = db()
    lifecycle.finish_wrap_up(session, user_id=current_user.id, now=_now())
    session.commit()
    return jsonify(_call_payload(None, _agent(session)))


@bp.post("/appels")
def start_call():
    """Open the call row, then hand over to the provider (browser device or simulator)."""
    session = db()
    settings = state().settings
    provider = telephony()
    debtor_id = parse_id(request.form.get("debtor_id"))
    if debtor_id is None:
        return _json_error("Aucun débiteur choisi.", 422, {"debtor_id": "Aucun débiteur choisi."})
    try:
        call = lifecycle.start_call(
            session,
            agent_id=current_user.id,
            debtor_id=debtor_id,
            contact_id=parse_id(request.form.get("contact_id")),
            provider=provider.name,
            caller_id=settings.telephony.caller_id,
            now=_now(),
            lease=_lease(),
        )
    except ValidationFailed as failed:
        session.rollback()
        return _json_error(failed.message, 422, failed.errors)
    except DomainError as refused:
        session.rollback()
        return _json_error(refused.message, 409)
    session.commit()
    call_id = call.id
    try:
        start = provider.start(call_id=call_id, agent_id=current_user.id)
    except (TelephonyFailure, TelephonyUnavailable) as failure:
        _end_locally(session, call_id, "failed")
        return _json_error(failure.message, 502)
    session.expire_all()
    payload = _call_payload(session.get(Call, call_id), _agent(session))
    return jsonify(payload | {"mode": start.mode, "params": start.params})


def _end_locally(session: Session, call_id: int, status: str) -> None:
    """End a call the provider will never report on (it never reached it)."""
    session.rollback()
    lifecycle.apply_status(
        session,
        call_id=call_id,
        update=lifecycle.StatusUpdate(status=status, at=_now()),
        now=_now(),
        lease=_lease(),
        wrap_up_seconds=_wrap_up_seconds(),
    )
    session.commit()


@bp.get("/appels/<int:call_id>/etat")
def call_state(call_id: int):
    session = db()
    call = _own_call(session, call_id)
    return jsonify(_call_payload(call, _agent(session)))


@bp.get("/appels/<int:call_id>")
def call_record(call_id: int):
    """The call's record: every step of its life, recording and outcome."""
    session = db()
    call = _own_call(session, call_id)
    actors = {
        user.id: user.full_name
        for user in session.exec(select(User).where(User.id == call.agent_id)).all()
    }
    context = {
        "call": call,
        "debtor": session.get(Debtor, call.debtor_id),
        "contact": session.get(Contact, call.contact_id) if call.contact_id else None,
        "agent_name": actors.get(call.agent_id),
        "entries": [
            describe(event, actors.get(event.actor_id))
            for event in lifecycle.call_events(session, call=call)
        ],
        "status_labels": lifecycle.STATUS_LABELS,
        "answered_by_labels": lifecycle.ANSWERED_BY_LABELS,
        "duration_label": lifecycle.duration_label,
        "can_listen": current_user.has_role(Role.SUPERVISOR, Role.ADMIN),
        "disposition": session.exec(
            select(Disposition).where(Disposition.code == call.disposition_code)
        ).first()
        if call.disposition_code
        else None,
    }
    template = "telephony/_call.html" if htmx else "telephony/call.html"
    return render_template(template, **context)


@bp.post("/appels/<int:call_id>/raccrocher")
def hangup(call_id: int):
    session = db()
    call = _own_call(session, call_id)
    provider = telephony()
    if lifecycle.is_terminal(call):
        return jsonify(_call_payload(call, _agent(session)))
    sid, answered_at = call.provider_call_id, call.answered_at
    session.rollback()
    try:
        if sid is None:
            _end_locally(session, call_id, "canceled")
        elif isinstance(provider, SimulatedTelephony):
            provider.finish(call_id=call_id, provider_call_id=sid, answered_at=answered_at)
        else:
            provider.hangup(sid)
    except (TelephonyFailure, TelephonyUnavailable) as failure:
        return _json_error(failure.message, 502)
    session.expire_all()
    return jsonify(_call_payload(session.get(Call, call_id), _agent(session)))


@bp.post("/appels/<int:call_id>/opposition")
def object_to_recording(call_id: int):
    """The debtor refuses the recording: stop it now, delete what was recorded."""
    session = db()
    call = _own_call(session, call_id)
    try:
        lifecycle.object_to_recording(
            session, call_id=call.id, agent_id=current_user.id, now=_now()
        )
    except DomainError as refused:
        session.rollback()
        return _json_error(refused.message, 409)
    session.commit()
    provider = telephony()
    try:
        if call.provider_call_id and not lifecycle.is_terminal(call):
            provider.stop_recording(call.provider_call_id)
        if call.recording_sid:
            _delete_recording(session, call, "opposition du débiteur", current_user.id)
    except (TelephonyFailure, TelephonyUnavailable) as failure:
        log.warning("opposition de l'appel %s en attente : %s", call_id, failure.message)
        message = (
            "Opposition notée. La téléphonie ne répond pas pour le moment : l'enregistrement "
            "sera arrêté et supprimé automatiquement dès qu'elle répondra."
        )
        return jsonify({"message": message, "pending": True}), 202
    return jsonify({"message": "Opposition notée : l'enregistrement est arrêté et supprimé."})


def _delete_recording(session: Session, call: Call, reason: str, actor_id: int | None) -> None:
    sid = call.recording_sid
    if not sid:
        return
    telephony().delete_recording(sid)
    lifecycle.recording_deleted(
        session, call_id=call.id, sid=sid, reason=reason, actor_id=actor_id, now=_now()
    )
    session.commit()


def _simulator() -> SimulatedTelephony:
    provider = telephony()
    if not isinstance(provider, SimulatedTelephony):
        abort(404)
    return provider


@bp.post("/appels/<int:call_id>/simulation/<outcome>")
def simulate(call_id: int, outcome: str):
    """The simulator plays the debtor: answers, does not answer, voicemail, busy, failure."""
    simulator = _simulator()
    if outcome not in OUTCOMES:
        abort(404)
    session = db()
    call = _own_call(session, call_id)
    if call.provider_call_id is None or lifecycle.is_terminal(call):
        return _json_error("Cet appel n'est plus en cours.", 409)
    sid = call.provider_call_id
    session.rollback()
    try:
        simulator.drive(call_id=call_id, provider_call_id=sid, outcome=outcome)
    except (TelephonyFailure, TelephonyUnavailable) as failure:
        return _json_error(failure.message, 502)
    session.expire_all()
    return jsonify(_call_payload(session.get(Call, call_id), _agent(session)))


@bp.post("/appels/<int:call_id>/simulation/enregistrement")
@accepts_upload(lambda _settings: MAX_AUDIO_BYTES)
def simulate_recording(call_id: int):
    """Attach an audio file as the simulated call's recording (sent as Twilio would)."""
    simulator = _simulator()
    session = db()
    call = _own_call(session, call_id)
    upload = request.files.get("audio")
    if call.provider_call_id is None:
        return _json_error("Cet appel n'a pas abouti : rien à enregistrer.", 409)
    if upload is None or not upload.filename:
        return _json_error("Choisissez un fichier audio.", 422, {"audio": "Fichier manquant."})
    content = upload.read(MAX_AUDIO_BYTES + 1)
    sid = call.provider_call_id
    duration = call.duration_seconds or 0
    session.rollback()
    try:
        simulator.attach_recording(
            call_id=call_id, provider_call_id=sid, content=content, duration_seconds=duration
        )
    except (TelephonyFailure, TelephonyUnavailable) as failure:
        return _json_error(failure.message, 422, {"audio": failure.message})
    session.expire_all()
    return jsonify(_call_payload(session.get(Call, call_id), _agent(session)))


# --- provider webhooks ------------------------------------------------------------------------


def _signed_url() -> str:
    url = _public_base() + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return url


@webhooks.before_request
def require_signature():
    """403 unless ``X-Twilio-Signature`` signs the public URL and the posted parameters."""
    token = telephony().webhook_auth_token()
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not token or not signature:
        abort(403)
    if not RequestValidator(token).validate(_signed_url(), request.form, signature):
        abort(403)


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def _moment(value: str | None) -> datetime:
    """Twilio's ``Timestamp`` (RFC 2822); our clock when absent or unreadable."""
    if value:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return _now()
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return _now()


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().lstrip("-").isdigit() else None


@webhooks.post("/voix")
def voice():
    """The TwiML App's voice URL: dial the number of the call row, never one from the browser."""
    session = db()
    settings = state().settings
    form = request.form
    call_id = parse_id(form.get("CallId"))
    sid = form.get("CallSid", "")
    refusal = VoiceResponse()
    if call_id is None or not sid:
        refusal.say("Appel impossible : aucun dossier n'est associé à cet appel.", language="fr-FR")
        refusal.hangup()
        return _twiml(refusal)
    try:
        call = lifecycle.link_provider_call(
            session,
            call_id=call_id,
            provider_call_id=sid,
            agent_id=agent_from_identity(form.get("From", "")),
        )
    except DomainError as refused:
        session.rollback()
        refusal.say(f"Appel impossible : {refused.message}", language="fr-FR")
        refusal.hangup()
        return _twiml(refusal)
    session.commit()
    return _twiml(dial_twiml(call, settings))


def dial_twiml(call: Call, settings) -> VoiceResponse:
    """``<Dial>`` to the debtor, caller id from config, recorded on both channels if enabled."""
    app = current_app._get_current_object()
    status_url = _absolute(app, "twilio_webhooks.status", call_id=call.id)
    response = VoiceResponse()
    options: dict[str, Any] = {"caller_id": settings.telephony.caller_id, "answer_on_bridge": True}
    number_options: dict[str, Any] = {
        "status_callback": status_url,
        "status_callback_event": STATUS_EVENTS,
        "status_callback_method": "POST",
        "machine_detection": "Enable",
        "amd_status_callback": status_url,
        "amd_status_callback_method": "POST",
    }
    if settings.recordings.enabled:
        options.update(
            record="record-from-answer-dual",
            recording_status_callback=_absolute(app, "twilio_webhooks.recording", call_id=call.id),
            recording_status_callback_event="completed absent",
            recording_status_callback_method="POST",
        )
        number_options["url"] = _absolute(app, "twilio_webhooks.consent", call_id=call.id)
        number_options["method"] = "POST"
    if settings.speech.model_path and settings.speech.live_partials:
        add_stream(response, call)
    dial = response.dial(**options)
    dial.number(call.to_number, **number_options)
    return response


@webhooks.post("/appels/<int:call_id>/annonce")
def consent(call_id: int):
    """Played to the debtor once they answer, before the agent is connected (CNIL)."""
    session = db()
    settings = state().settings
    response = VoiceResponse()
    if settings.recordings.enabled and session.get(Call, call_id) is not None:
        response.say(CONSENT_TEXT.format(company=settings.company.name), language="fr-FR")
        lifecycle.consent_announced(session, call_id=call_id, now=_now())
        session.commit()
    return _twiml(response)


@webhooks.post("/appels/<int:call_id>/statut")
def status(call_id: int):
    """Call progress (and answering-machine detection): applied only if it moves the call on."""
    session = db()
    form = request.form
    call_status = form.get("CallStatus") or ("in-progress" if form.get("AnsweredBy") else "")
    sids = tuple(sid for sid in (form.get("CallSid"), form.get("ParentCallSid")) if sid)
    if not call_status or not sids:
        return _json_error("CallStatus et CallSid sont obligatoires.", 400)
    update = lifecycle.StatusUpdate(
        status=call_status,
        at=_moment(form.get("Timestamp")),
        call_sids=sids if form.get("CallStatus") else (),
        answered_by=form.get("AnsweredBy") or None,
        duration_seconds=_int(form.get("CallDuration")),
    )
    try:
        lifecycle.apply_status(
            session,
            call_id=call_id,
            update=update,
            now=_now(),
            lease=_lease(),
            wrap_up_seconds=_wrap_up_seconds(),
        )
    except ValidationFailed as failed:
        session.rollback()
        return _json_error(failed.message, 400, failed.errors)
    except DomainError as refused:
        session.rollback()
        return _json_error(refused.message, 404)
    session.commit()
    return Response(status=204)


@webhooks.post("/appels/<int:call_id>/enregistrement")
def recording(call_id: int):
    """Recording status: the call keeps the recording, unless the debtor objected."""
    session = db()
    form = request.form
    sid = form.get("RecordingSid", "")
    if not sid:
        return _json_error("RecordingSid est obligatoire.", 400)
    try:
        objected = lifecycle.record_recording(
            session,
            call_id=call_id,
            sid=sid,
            status=form.get("RecordingStatus", "completed"),
            url=form.get("RecordingUrl") or None,
            duration_seconds=_int(form.get("RecordingDuration")),
            at=_moment(form.get("RecordingStartTime")),
        )
    except DomainError as refused:
        session.rollback()
        return _json_error(refused.message, 404)
    session.commit()
    if objected:
        call = session.get(Call, call_id)
        try:
            _delete_recording(session, call, "opposition du débiteur", None)
        except TelephonyFailure as failure:
            log.warning("recording %s kept after objection: %s", sid, failure.message)
    return Response(status=204)


# --- recordings: supervisors only -------------------------------------------------------------


@recordings.get("/<int:call_id>")
def listen(call_id: int):
    session = db()
    call = session.get(Call, call_id)
    if call is None or not call.recording_sid:
        abort(404)
    try:
        content, mimetype = telephony().recording_audio(call.recording_sid)
    except (RecordingGone, TelephonyUnavailable):
        abort(404)
    except TelephonyFailure as failure:
        abort(502, failure.message)
    response = make_response(content)
    response.mimetype = mimetype
    return response
