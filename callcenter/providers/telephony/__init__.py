"""Telephony port and its two adapters: ``twilio`` and ``simulated`` (the default)."""

from __future__ import annotations

import hashlib
import hmac

from callcenter.clock import Clock
from callcenter.config import Settings
from callcenter.providers.telephony.base import TelephonyProvider
from callcenter.providers.telephony.simulated import SimulatedTelephony
from callcenter.providers.telephony.twilio_adapter import TwilioTelephony


def simulator_token(settings: Settings) -> str:
    """The simulator's signing secret, derived from the session key (never a Twilio secret)."""
    key = settings.session_secret_key().encode()
    return hmac.new(key, b"callcenter simulated telephony", hashlib.sha256).hexdigest()


def build_telephony(settings: Settings, clock: Clock | None = None) -> TelephonyProvider:
    """The adapter named by ``[telephony] provider``; the simulator stamps times from ``clock``."""
    telephony = settings.telephony
    if telephony.provider == "twilio":
        return TwilioTelephony(
            account_sid=telephony.twilio_account_sid,
            auth_token=settings.secrets.twilio_auth_token,
            api_key_sid=telephony.twilio_api_key_sid,
            api_key_secret=settings.secrets.twilio_api_key_secret,
            twiml_app_sid=telephony.twilio_twiml_app_sid,
        )
    return SimulatedTelephony(
        auth_token=simulator_token(settings),
        recordings_dir=settings.data_path / "recordings",
        announce_consent=settings.recordings.enabled,
        now=(clock or Clock(settings.app.timezone)).now,
    )


__all__ = ["SimulatedTelephony", "TelephonyProvider", "TwilioTelephony", "build_telephony"]
