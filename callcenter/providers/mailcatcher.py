"""The local mail catcher for the demo and development: a real SMTP server (aiosmtpd).

Every message it accepts is kept as an ``.eml`` file named after its Message-ID,
so a message delivered twice (a sender resending after a crash) is stored once,
as a recipient's mail system would show it. A web page lists what it received.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class CaughtMessage:
    key: str
    message_id: str
    sender: str
    recipients: str
    subject: str
    date: datetime | None
    size: int


class CatchingHandler:
    """aiosmtpd handler storing each distinct message once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.received = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.original_content or envelope.content
        message = message_from_bytes(raw, policy=default_policy)
        message_id = str(message.get("Message-ID") or hashlib.sha256(raw).hexdigest())
        path = self.folder / f"{message_key(message_id)}.eml"
        self.received += 1
        if not path.exists():
            _write_atomically(path, raw)
        return "250 Message accepted for delivery"


def message_key(message_id: str) -> str:
    return hashlib.sha256(message_id.strip().encode()).hexdigest()[:32]


def _write_atomically(path: Path, content: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as stream:
        stream.write(content)
    os.replace(temporary, path)


def start_catcher(folder: Path, host: str, port: int) -> Controller:
    controller = Controller(CatchingHandler(folder), hostname=host, port=port, enable_SMTPUTF8=True)
    controller.start()
    return controller


def read_message(folder: Path, key: str) -> EmailMessage | None:
    if not key.isalnum():
        return None
    path = folder / f"{key}.eml"
    if not path.exists():
        return None
    return message_from_bytes(path.read_bytes(), policy=default_policy)


def list_messages(folder: Path, limit: int = 200) -> list[CaughtMessage]:
    """Newest first."""
    if not folder.exists():
        return []
    paths = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)
    messages = []
    for path in paths[:limit]:
        message = message_from_bytes(path.read_bytes(), policy=default_policy)
        try:
            sent = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
        except (TypeError, ValueError):
            sent = None
        messages.append(
            CaughtMessage(
                key=path.stem,
                message_id=str(message["Message-ID"] or ""),
                sender=str(message["From"] or ""),
                recipients=str(message["To"] or ""),
                subject=str(message["Subject"] or ""),
                date=sent,
                size=path.stat().st_size,
            )
        )
    return messages


def html_part(message: EmailMessage) -> str | None:
    """The HTML, its inline images (``cid:``, the QR codes) turned into data URIs so that the
    page can show them without fetching anything."""
    part = message.get_body(preferencelist=("html",))
    if part is None:
        return None
    content = part.get_content()
    for related in message.walk():
        cid = (related.get("Content-ID") or "").strip().strip("<>")
        if cid and related.get_content_maintype() == "image":
            data = base64.b64encode(related.get_content()).decode()
            content = content.replace(
                f"cid:{cid}", f"data:{related.get_content_type()};base64,{data}"
            )
    return content


def text_part(message: EmailMessage) -> str | None:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else None
