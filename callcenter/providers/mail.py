"""Mail port and its SMTP adapter.

The port takes a fully built ``EmailMessage`` and either returns (the server
accepted it) or raises ``TemporaryMailFailure`` (4xx reply, connection refused,
timeout: worth retrying) or ``PermanentMailFailure`` (5xx reply: retrying would
fail the same way). ``SmtpTransport.connection()`` sends a batch over one SMTP
session (reconnecting after any failure and every ``messages_per_connection``
messages) instead of one connection per message.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

from callcenter.models import OutboxEmail, utcnow


class MailFailure(Exception):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TemporaryMailFailure(MailFailure):
    """Try again later."""


class PermanentMailFailure(MailFailure):
    """The server refused the message for good."""


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
    )


def _reply_text(error: smtplib.SMTPResponseException) -> str:
    reply = error.smtp_error
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{error.smtp_code} {text}"


def build_message(email: OutboxEmail, *, sender_name: str, sender_address: str) -> EmailMessage:
    """The MIME message for an outbox row: text and HTML, stable Message-ID, UTF-8 headers."""
    message = EmailMessage()
    local, _, domain = sender_address.partition("@")
    message["From"] = Address(display_name=sender_name, username=local, domain=domain)
    message["To"] = email.to_address
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    message["Message-ID"] = email.message_id
    message["Date"] = format_datetime(email.created_at or utcnow())
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.body_text)
    message.add_alternative(email.body_html, subtype="html")
    return message
