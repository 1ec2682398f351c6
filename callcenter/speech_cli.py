"""``callcenter speech …``: install a Vosk model, transcribe a call's recording now."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from callcenter.domain.errors import DomainError


@click.group("speech", cls=AppGroup)
def speech_group() -> None:
    """Reconnaissance vocale (Vosk) : modèle et transcriptions."""


@speech_group.command("install")
@click.argument("path", type=click.Path(path_type=Path))
def speech_install(path: Path) -> None:
    """Installe un modèle Vosk (dossier ou archive zip officielle) et le vérifie."""
    from callcenter.domain.speech.install import install_model

    settings = current_app.extensions["callcenter"].settings
    try:
        installed = install_model(path, models_dir=settings.data_path / "models")
    except DomainError as refused:
        raise click.ClickException(refused.message) from refused
    click.echo(installed.message)


@speech_group.command("transcribe")
@click.argument("call_id", type=int)
def speech_transcribe(call_id: int) -> None:
    """Transcrit tout de suite l'enregistrement d'un appel (agent et débiteur à part)."""
    from sqlmodel import select

    from callcenter.db import read_only, session_scope
    from callcenter.jobs.context import JobContext
    from callcenter.jobs.transcription import speech_engine, transcribe_call
    from callcenter.models import Call, Transcript
    from callcenter.providers.mail import transport_from_settings
    from callcenter.providers.speech import SpeechUnavailable

    state = current_app.extensions["callcenter"]
    context = JobContext(
        settings=state.settings,
        engine=state.engine,
        mail=transport_from_settings(state.settings),
        clock=state.clock,
    )
    with session_scope(read_only(state.engine)) as session:
        call = session.get(Call, call_id)
        if call is None:
            raise click.ClickException(f"Appel {call_id} introuvable.")
        if not call.recording_sid:
            raise click.ClickException(f"L'appel {call_id} n'a pas d'enregistrement.")
    try:
        engine = speech_engine(context)
    except SpeechUnavailable as unavailable:
        raise click.ClickException(unavailable.message) from unavailable
    done = transcribe_call(context, engine, call_id)
    with session_scope(read_only(state.engine)) as session:
        rows = session.exec(select(Transcript).where(Transcript.call_id == call_id)).all()
        counts = ", ".join(f"{row.track} : {len(row.words)} mots" for row in rows)
    if not done:
        raise click.ClickException(
            f"Transcription impossible (voir l'historique de l'appel). {counts}"
        )
    click.echo(f"Appel {call_id} transcrit — {counts}.")
