"""Mail port and its SMTP adapter.

The port takes a fully built ``EmailMessage`` and either returns (the server
accepted it) or raises ``TemporaryMailFailure`` (4xx reply, connection refused,
timeout: worth retrying) or ``PermanentMailFailure`` (5xx reply: retrying would
fail the same way). ``SmtpTransport.connection()`` sends a batch over one SMTP
session (reconnecting after any failure and every ``messages_per_connection``
messages) instead of one connection per message.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

from callcenter.models import OutboxEmail
from callcenter.providers.girocode import draw_qr_codes, qr_png

DISPLAY_NAME_LIMIT = 100
# What a display name loses: controls and the ASCII characters that need quoting in a
# header. Python's header folding breaks quoted names (a long « Dupont, Jean … » became
# nine recipients), so these become spaces: the name is a courtesy, the address matters.
_UNSAFE_IN_DISPLAY_NAME = re.compile(r'[\x00-\x1f\x7f"(),:;<>@\[\\\]]')
_LINE_BREAKS = re.compile(r"[\r\n\x00]")


class MailFailure(Exception):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TemporaryMailFailure(MailFailure):
    """Try again later."""


class PermanentMailFailure(MailFailure):
    """The server refused the message for good."""


class UnbuildableMessage(Exception):
    """The outbox row cannot become a valid message (a header that would break): retrying
    would fail the same way, so the row goes to the dead letters with this French reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MailTransport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpConnection:
    """One SMTP session reused for several messages; reopened after any failure."""

    def __init__(self, transport: SmtpTransport) -> None:
        self.transport = transport
        self.client: smtplib.SMTP | None = None
        self.sent_on_client = 0

    def send(self, message: EmailMessage) -> None:
        transport = self.transport
        try:
            if self.client is not None and self.sent_on_client >= transport.messages_per_connection:
                self.close()
            if self.client is None:
                self.client = transport._connect()
                self.sent_on_client = 0
                if transport.username:
                    self.client.login(transport.username, transport.password)
            self.sent_on_client += 1
            refused = self.client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            self.close()
            transport._raise_for_codes([code for code, _ in error.recipients.values()], str(error))
        except smtplib.SMTPResponseException as error:
            self.close()
            transport._raise_for_codes([error.smtp_code], _reply_text(error))
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            self.close()
            raise TemporaryMailFailure(f"Serveur SMTP injoignable : {error}") from error
        if refused:
            transport._raise_for_codes([code for code, _ in refused.values()], str(refused))

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            client.close()


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int
    security: str = "none"
    username: str = ""
    password: str = ""
    timeout: float = 30.0
    messages_per_connection: int = 100

    def send(self, message: EmailMessage) -> None:
        with self.connection() as connection:
            connection.send(message)

    @contextmanager
    def connection(self) -> Iterator[SmtpConnection]:
        """Send several messages over one SMTP session, closed on exit."""
        connection = SmtpConnection(self)
        try:
            yield connection
        finally:
            connection.close()

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            try:
                client.starttls(context=context)
            except BaseException:
                client.close()
                raise
        return client

    @staticmethod
    def _raise_for_codes(codes: list[int], text: str) -> None:
        if codes and all(500 <= code < 600 for code in codes):
            raise PermanentMailFailure(f"Refus définitif du serveur SMTP : {text}", codes[0])
        raise TemporaryMailFailure(f"Refus temporaire du serveur SMTP : {text}", codes[0])


def transport_from_settings(settings) -> SmtpTransport:
    mail = settings.mail
    return SmtpTransport(
        host=mail.smtp_host,
        port=mail.smtp_port,
        security=mail.smtp_security,
        username=mail.smtp_username,
        password=settings.secrets.smtp_password,
        timeout=float(mail.smtp_timeout_seconds),
    )


def _reply_text(error: smtplib.SMTPResponseException) -> str:
    reply = error.smtp_error
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{error.smtp_code} {text}"


def header_display_name(name: str) -> str:
    """A name as it can stand before an address in a header, whatever it was typed as."""
    cleaned = " ".join(_UNSAFE_IN_DISPLAY_NAME.sub(" ", name).split())
    return cleaned[:DISPLAY_NAME_LIMIT].strip()


def header_mailbox(value: str, what: str) -> Address:
    """The one mailbox a stored ``Nom <adresse>`` names, rebuilt so that it folds safely.

    Refused (``UnbuildableMessage``) when it holds a line break, names no address or several.
    """
    if _LINE_BREAKS.search(value):
        raise UnbuildableMessage(f"{what} contient un retour à la ligne : envoi impossible.")
    try:
        addresses = policy.default.header_factory("To", value).addresses
    except (HeaderParseError, ValueError, IndexError):
        addresses = ()
    if len(addresses) != 1 or not addresses[0].username or not addresses[0].domain:
        raise UnbuildableMessage(f"{what} illisible (« {value[:120]} ») : envoi impossible.")
    found = addresses[0]
    try:
        return Address(
            display_name=header_display_name(found.display_name),
            username=found.username,
            domain=found.domain,
        )
    except ValueError:
        refused = f"{what} invalide (« {value[:120]} ») : envoi impossible."
        raise UnbuildableMessage(refused) from None


def _add_html_with_qr_codes(message: EmailMessage, email: OutboxEmail) -> None:
    """The HTML part; each SEPA QR code it names becomes an inline PNG beside it
    (``multipart/related``, ``cid:`` links: shown by mail clients that block data URIs)."""
    images: list[tuple[str, bytes]] = []

    def content_id(payload: str) -> str:
        images.append((f"qr{len(images) + 1}.{email.message_id.strip('<>')}", qr_png(payload)))
        return f"cid:{images[-1][0]}"

    message.add_alternative(draw_qr_codes(email.body_html, content_id), subtype="html")
    html = message.get_payload()[1]
    for cid, png in images:
        html.add_related(
            png, "image", "png", cid=f"<{cid}>", disposition="inline", filename="qr-virement.png"
        )


def build_message(
    email: OutboxEmail, *, sender_name: str, sender_address: str, now: datetime
) -> EmailMessage:
    """The MIME message for an outbox row: text and HTML, stable Message-ID, UTF-8 headers.

    Raises ``UnbuildableMessage`` (French reason) for a row no server should receive.
    """
    if _LINE_BREAKS.search(email.subject):
        raise UnbuildableMessage("L'objet contient un retour à la ligne : envoi impossible.")
    message = EmailMessage()
    local, _, domain = sender_address.partition("@")
    try:
        message["From"] = Address(
            display_name=header_display_name(sender_name), username=local, domain=domain
        )
        message["To"] = header_mailbox(email.to_address, "L'adresse du destinataire")
        if email.reply_to:
            message["Reply-To"] = header_mailbox(email.reply_to, "L'adresse de réponse")
        message["Subject"] = email.subject
        message["Message-ID"] = email.message_id
        message["Date"] = format_datetime(email.created_at or now)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(email.body_text)
        _add_html_with_qr_codes(message, email)
    except UnbuildableMessage:
        raise
    except (ValueError, TypeError, IndexError, HeaderParseError, UnicodeError) as error:
        raise UnbuildableMessage(f"Message impossible à construire ({error}).") from error
    return message
