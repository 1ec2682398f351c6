"""Typed settings read from ``config.toml``.

Every key has a working default in the committed ``config.toml``. An unknown or
ill-typed key stops start-up with a message naming it, so a typo never silently
falls back to a default. Secrets (passwords, tokens, the session key) are never
read from the file: only from ``CALLCENTER_*`` environment variables.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config.toml"


class ConfigError(Exception):
    """A configuration problem, with a message an operator can act on."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AppSettings(_Section):
    name: str = "Callcenter"
    environment: Literal["development", "production"] = "development"
    public_url: str = "http://127.0.0.1:5000"
    timezone: str = "Europe/Paris"
    locale: str = "fr_FR"
    data_dir: str = "var"


class DatabaseSettings(_Section):
    url: str = "sqlite:///var/callcenter.db"
    echo: bool = False


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=5000, ge=1, le=65535)
    threads: int = Field(default=8, ge=1, le=64)
    workers: int = Field(default=0, ge=0, le=16)
    session_hours: int = Field(default=10, ge=1, le=24)
    keepalive_seconds: int = Field(default=120, ge=1, le=900)
    trusted_proxies: list[str] = []
    max_request_kib: int = Field(default=1024, ge=16, le=65536)
    max_upload_mib: int = Field(default=200, ge=1, le=2048)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"« {entry} » n'est ni une adresse IP ni un réseau (par exemple 10.0.0.0/8)"
                ) from None
        return value

    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The reverse proxies whose X-Forwarded-For header is believed."""
        return [ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies]


class SecuritySettings(_Section):
    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    password_min_length: int = Field(default=10, ge=8)


class TelephonySettings(_Section):
    provider: Literal["simulated", "twilio"] = "simulated"
    caller_id: str = "+33199000000"
    twilio_account_sid: str = ""
    twilio_api_key_sid: str = ""
    twilio_twiml_app_sid: str = ""


class MailSettings(_Section):
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "ssl"] = "none"
    smtp_username: str = ""
    sender_address: str = "relances@exemple.fr"
    sender_name: str = "Service relance client"
    recap_delay_minutes: int = Field(default=2, ge=0, le=120)
    recap_on_attempt: bool = True
    dispute_handler: str = "Notre service clients"
    max_attempts: int = Field(default=8, ge=1, le=50)
    first_retry_seconds: int = Field(default=60, ge=1)
    lease_seconds: int = Field(default=120, ge=10, le=3600)
    smtp_timeout_seconds: int = Field(default=20, ge=1, le=300)


# A French test account (valid key, no real bank account): the demo's bank details. Production
# refuses to start with it, so that no debtor is ever asked to pay into it.
EXAMPLE_IBAN = "FR7630006000011234567890189"
EXAMPLE_BIC = "AGRIFRPPXXX"


class CompanySettings(_Section):
    name: str = "Exemple SAS"
    signature: str = "Le service relance client"
    iban: str = EXAMPLE_IBAN
    bic: str = EXAMPLE_BIC
    siren: str = ""
    address: list[str] = ["12 rue de l'Exemple", "75002 Paris"]
    phone: str = "+33465713803"

    @field_validator("iban")
    @classmethod
    def _iban(cls, value: str) -> str:
        """Kept compact (``FR76300060…``); empty when the company takes no transfer."""
        if not value.strip():
            return ""
        try:
            return stdnum_iban.validate(value)
        except StdnumError:
            raise ValueError(
                "IBAN invalide : vérifiez le pays, la clé de contrôle et la longueur "
                "(par exemple FR76 3000 6000 0112 3456 7890 189)"
            ) from None

    @field_validator("bic")
    @classmethod
    def _bic(cls, value: str) -> str:
        if not value.strip():
            return ""
        try:
            return stdnum_bic.validate(value)
        except StdnumError:
            raise ValueError(
                "BIC invalide : 8 ou 11 caractères, banque, pays, lieu (par exemple AGRIFRPPXXX)"
            ) from None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        """Kept in E.164 (``+33465713803``); shown ``04 65 71 38 03`` to the debtor."""
        if not value.strip():
            return ""
        try:
            number = phonenumbers.parse(value, "FR")
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise ValueError("numéro de téléphone invalide (par exemple 04 65 71 38 03)")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class PromiseSettings(_Section):
    horizon_days: int = Field(default=30, ge=1, le=365)
    grace_days: int = Field(default=3, ge=0, le=30)
    tolerance_cents: int = Field(default=100, ge=0)
    max_instalments: int = Field(default=12, ge=1, le=60)
    reminder_days_before: int = Field(default=1, ge=0, le=30)


class WorkspaceSettings(_Section):
    target_due_within_days: int = Field(default=7, ge=0, le=60)
    timeline_limit: int = Field(default=1000, ge=10, le=10000)
    wrap_up_seconds: int = Field(default=120, ge=0, le=3600)
    correction_minutes: int = Field(default=15, ge=0, le=240)


class LetterSettings(_Section):
    late_interest_rate_percent: float = Field(default=12.15, ge=0)
    recovery_indemnity_cents: int = Field(default=4000, ge=0)
    payment_deadline_days: int = Field(default=8, ge=1, le=60)


class ImportSettings(_Section):
    keep_uploads_days: int = Field(default=7, ge=1, le=90)
    earliest_year: int = Field(default=1990, ge=1900, le=9999)
    latest_year: int = Field(default=2100, ge=1900, le=9999)

    @field_validator("latest_year")
    @classmethod
    def _year_range(cls, value: int, info: ValidationInfo) -> int:
        if value < info.data.get("earliest_year", value):
            raise ValueError("latest_year doit être supérieure ou égale à earliest_year")
        return value

    @property
    def years(self) -> tuple[int, int]:
        """The years a date read in an imported file must fall within."""
        return self.earliest_year, self.latest_year


class RecordingSettings(_Section):
    enabled: bool = False
    retention_months: int = Field(default=6, ge=1, le=120)


class SpeechSettings(_Section):
    model_path: str = ""
    live_partials: bool = True
    pressure_phrases: list[str] = [
        "huissier",
        "vous allez le regretter",
        "on va saisir",
        "saisie",
        "poursuites",
        "au tribunal",
        "je vais vous envoyer quelqu'un",
        "dernier avertissement",
        "vous n'avez pas le choix",
        "on sait où vous trouver",
    ]
    dispute_phrases: list[str] = [
        "litige",
        "pas reçu",
        "jamais reçu",
        "on conteste",
        "je conteste",
        "pas conforme",
        "erreur de facturation",
        "abîmé",
    ]
    answering_machine_phrases: list[str] = [
        "laissez un message",
        "après le bip",
        "messagerie",
        "n'est pas disponible",
        "répondeur",
    ]


class CockpitSettings(_Section):
    """Wallboard refresh and the colour thresholds of time in state, as contact centres use."""

    refresh_seconds: int = Field(default=3, ge=1, le=5)
    on_call_warn_seconds: int = Field(default=600, ge=1)
    on_call_alert_seconds: int = Field(default=1200, ge=1)
    wrap_up_warn_seconds: int = Field(default=120, ge=1)
    wrap_up_alert_seconds: int = Field(default=300, ge=1)
    paused_warn_seconds: int = Field(default=900, ge=1)
    paused_alert_seconds: int = Field(default=1800, ge=1)
    available_warn_seconds: int = Field(default=300, ge=1)


class DemoSettings(_Section):
    debtors: int = Field(default=500, ge=1)
    seed: int = 42


PHONE_ACTIONS = ("call", "preventive_call")
LadderAction = Literal["email", "call", "preventive_call", "letter", "formal_notice", "litigation"]


class QueueSettings(_Section):
    """Weights of the score, eligibility rules and leases of the work queue."""

    lease_minutes: int = Field(default=15, ge=1, le=240)
    skip_minutes: int = Field(default=60, ge=1)
    callback_reassign_minutes: int = Field(default=30, ge=0)
    max_attempts_per_week: int = Field(default=3, ge=1)
    min_hours_between_attempts: float = Field(default=4.0, ge=0)
    cap_across_channels: bool = False
    calling_weekdays: list[int] = [1, 2, 3, 4, 5]
    calling_hours: list[str] = ["09:00-12:30", "14:00-18:30"]
    public_holidays: bool = True
    points_per_log_euro: float = 4.0
    points_per_overdue_day: float = 0.5
    max_overdue_days: int = Field(default=120, ge=1)
    points_per_broken_promise: float = 15.0
    points_promise_due_today: float = 25.0
    points_callback_due: float = 1000.0
    points_never_reached: float = 10.0
    points_per_day_since_contact: float = 1.0
    max_days_since_contact: int = Field(default=30, ge=1)
    points_per_risk: float = 0.2
    penalty_per_attempt_today: float = 20.0
    segment_points: dict[str, float] = {"key_account": 15.0, "standard": 0.0, "small": -5.0}

    @field_validator("calling_weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(day < 1 or day > 7 for day in value):
            raise ValueError("jours ISO de 1 (lundi) à 7 (dimanche)")
        return value

    @field_validator("calling_hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        for window in value:
            start, sep, end = window.partition("-")
            if not sep or not (_is_clock(start) and _is_clock(end)) or start >= end:
                raise ValueError(f"plage horaire « {window} » : attendu HH:MM-HH:MM")
        return value


def _is_clock(text: str) -> bool:
    hours, sep, minutes = text.partition(":")
    return (
        bool(sep)
        and len(hours) == 2
        and len(minutes) == 2
        and hours.isdigit()
        and minutes.isdigit()
        and int(hours) < 24
        and int(minutes) < 60
    )


class LadderStep(_Section):
    """One rung: an action ``offset_days`` from the due date (negative: before)."""

    offset_days: int
    action: LadderAction
    label: str = Field(min_length=1, max_length=120)
    min_amount_cents: int = Field(default=0, ge=0)
    attempts: int = Field(default=3, ge=1, le=10)
    catch_up: bool = False


def _steps(*rows: tuple[int, str, str, int]) -> list[LadderStep]:
    return [
        LadderStep(offset_days=o, action=a, label=label, min_amount_cents=m)
        for o, a, label, m in rows
    ]


_LARGE_INVOICE_CENTS = 500_000
_PREVENTIVE_EMAIL = (-10, "email", "E-mail préventif : tout est-il en ordre ?", 0)
_LATE_STEPS = (
    (35, "letter", "Lettre de relance", 0),
    (45, "formal_notice", "Mise en demeure", 0),
    (60, "litigation", "Transmission au contentieux", 0),
)
_EMAILS = ((1, "email", "1er e-mail de relance", 0), (8, "email", "2e e-mail de relance", 0))
_STANDARD_LADDER = _steps(
    _PREVENTIVE_EMAIL,
    (-3, "preventive_call", "Appel préventif (grosse facture)", _LARGE_INVOICE_CENTS),
    *_EMAILS,
    (15, "call", "1er appel", 0),
    (25, "call", "2e appel", 0),
    *_LATE_STEPS,
)
_KEY_ACCOUNT_LADDER = _steps(
    _PREVENTIVE_EMAIL,
    (-3, "preventive_call", "Appel préventif", 0),
    *_EMAILS,
    (25, "call", "1er appel", 0),
    (30, "call", "2e appel", 0),
    *_LATE_STEPS,
)


class LadderSettings(_Section):
    """The dunning ladder of each segment; an unknown segment follows « standard »."""

    standard: list[LadderStep] = _STANDARD_LADDER
    key_account: list[LadderStep] = _KEY_ACCOUNT_LADDER
    small: list[LadderStep] = _STANDARD_LADDER

    def for_segment(self, segment: str) -> list[LadderStep]:
        return getattr(self, segment) if segment in type(self).model_fields else self.standard

    @model_validator(mode="after")
    def _one_phone_catch_up_step(self) -> LadderSettings:
        """An imported back-book enters its ladder at the catch-up step: one, and a call."""
        for segment in type(self).model_fields:
            marked = [step for step in getattr(self, segment) if step.catch_up]
            if len(marked) > 1:
                raise ValueError(f"[ladder] {segment} : une seule étape de rattrapage (catch_up).")
            if marked and marked[0].action not in PHONE_ACTIONS:
                raise ValueError(
                    f"[ladder] {segment} : l'étape de rattrapage (catch_up) doit être un appel."
                )
        return self


class Secrets(BaseModel):
    """Values that only ever come from the environment."""

    model_config = ConfigDict(frozen=True)

    secret_key: str = ""
    database_url: str = ""
    twilio_auth_token: str = ""
    twilio_api_key_secret: str = ""
    smtp_password: str = ""

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Secrets:
        environ = os.environ if environ is None else environ
        values = {
            name: environ[f"CALLCENTER_{name.upper()}"]
            for name in cls.model_fields
            if environ.get(f"CALLCENTER_{name.upper()}")
        }
        return cls(**values)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={'***' if value else ''!r}" for name, value in self)
        return f"Secrets({shown})"

    __str__ = __repr__


class ApiSettings(_Section):
    """The creditor systems' API (``/api/v1``): requests per minute per key, body size."""

    requests_per_minute: int = Field(default=600, ge=1, le=100_000)
    max_request_mib: int = Field(default=32, ge=1, le=256)


class Settings(_Section):
    app: AppSettings = AppSettings()
    database: DatabaseSettings = DatabaseSettings()
    web: WebSettings = WebSettings()
    security: SecuritySettings = SecuritySettings()
    telephony: TelephonySettings = TelephonySettings()
    mail: MailSettings = MailSettings()
    company: CompanySettings = CompanySettings()
    promises: PromiseSettings = PromiseSettings()
    workspace: WorkspaceSettings = WorkspaceSettings()
    letters: LetterSettings = LetterSettings()
    recordings: RecordingSettings = RecordingSettings()
    imports: ImportSettings = ImportSettings()
    speech: SpeechSettings = SpeechSettings()
    cockpit: CockpitSettings = CockpitSettings()
    demo: DemoSettings = DemoSettings()
    queue: QueueSettings = QueueSettings()
    ladder: LadderSettings = LadderSettings()
    api: ApiSettings = ApiSettings()
    _secrets: Secrets = PrivateAttr(default_factory=Secrets)
    _base_dir: Path = PrivateAttr(default=PROJECT_ROOT)

    @property
    def secrets(self) -> Secrets:
        return self._secrets

    @property
    def data_path(self) -> Path:
        return _resolve(self._base_dir, self.app.data_dir)

    @property
    def uploads_path(self) -> Path:
        """Where uploaded import files wait between their check and their apply."""
        return self.data_path / "imports"

    @property
    def web_workers(self) -> int:
        """Web processes: ``[web] workers``, or when it is 0, one on SQLite (its writers take
        turns inside one process) and one per core, 2 to 4, on PostgreSQL (the threads of one
        process share one interpreter lock, several processes claim in parallel)."""
        if self.web.workers:
            return self.web.workers
        if self.database_url.startswith("sqlite"):
            return 1
        return min(4, max(2, os.cpu_count() or 1))

    @property
    def database_url(self) -> str:
        """The database URL, a relative SQLite path resolved against the config's folder."""
        url = self.secrets.database_url or self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(_resolve(self._base_dir, url[len(prefix) :]))
        return url

    @property
    def is_production(self) -> bool:
        return self.app.environment == "production"

    @property
    def cookies_secure(self) -> bool:
        """Cookies are marked Secure whenever the product is served over HTTPS."""
        return self.app.public_url.startswith("https://")

    def session_secret_key(self) -> str:
        """The key signing sessions and CSRF tokens.

        Production refuses to start without ``CALLCENTER_SECRET_KEY``, or with one that
        could be guessed (see ``is_strong_secret_key``). In development a random key is
        kept in the data folder so that every process of ``make run`` shares it and
        sessions survive a restart.
        """
        key = self.secrets.secret_key
        if self.is_production and not key:
            raise ConfigError(
                "CALLCENTER_SECRET_KEY est obligatoire en production (une longue chaîne aléatoire)."
            )
        if self.is_production and not is_strong_secret_key(key):
            raise ConfigError(
                f"CALLCENTER_SECRET_KEY est trop faible : il faut au moins "
                f"{SECRET_KEY_MIN_LENGTH} caractères variés, sans espace autour (par exemple "
                "la sortie de « python -c 'import secrets; print(secrets.token_urlsafe(48))' »)."
            )
        if key:
            return key
        key_file = self.data_path / "secret_key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()


SECRET_KEY_MIN_LENGTH = 32
SECRET_KEY_MIN_DISTINCT = 10


def is_strong_secret_key(key: str) -> bool:
    """At least 32 characters, no surrounding whitespace and at least 10 distinct characters
    (a random key of that length has about 30): blanks and repeated characters are refused."""
    return (
        len(key) >= SECRET_KEY_MIN_LENGTH
        and key == key.strip()
        and len(set(key)) >= SECRET_KEY_MIN_DISTINCT
    )


def _resolve(base_dir: Path, path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else base_dir / candidate


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"clé inconnue « {key} »"
    if kind == "missing":
        return f"clé obligatoire absente « {key} »"
    reason = error["msg"].removeprefix("Value error, ")
    return f"valeur invalide pour « {key} » ({reason}, reçu {error.get('input')!r})"


def parse_settings(
    data: dict[str, Any],
    *,
    source: str = "config.toml",
    base_dir: str | Path = PROJECT_ROOT,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build settings from parsed TOML, raising ConfigError naming every bad key."""
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = "\n".join(f"  - {_describe(error)}" for error in exc.errors())
        raise ConfigError(f"Configuration {source} refusée :\n{problems}") from None
    if settings.is_production and settings.company.iban == EXAMPLE_IBAN:
        raise ConfigError(
            f"Configuration {source} refusée :\n  - valeur invalide pour « company.iban » "
            "(IBAN de démonstration : indiquez celui de l'entreprise avant la mise en production)"
        )
    settings._secrets = Secrets.from_environment(environ)
    settings._base_dir = Path(base_dir)
    return settings


def load_settings(
    path: str | Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Load ``CALLCENTER_CONFIG`` (or the project's ``config.toml``)."""
    environ = os.environ if environ is None else environ
    config_path = Path(path or environ.get("CALLCENTER_CONFIG") or DEFAULT_CONFIG_PATH)
    try:
        with config_path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"Fichier de configuration introuvable : {config_path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Fichier de configuration {config_path} illisible : {exc}") from None
    return parse_settings(
        data, source=str(config_path), base_dir=config_path.resolve().parent, environ=environ
    )
