"""A real SMTP server (aiosmtpd) on a free loopback port, scripted per test."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ScriptedHandler:
    """Accepts, delays, or refuses with the reply a test chooses."""

    data_reply: str = "250 2.0.0 OK"
    rcpt_reply: str | None = None
    delay: float = 0.0
    accepted: list = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.data_reply.startswith("250"):
            return self.data_reply
        raw = envelope.original_content or envelope.content
        self.accepted.append(
            (list(envelope.rcpt_tos), message_from_bytes(raw, policy=default_policy))
        )
        return self.data_reply


class SmtpServer:
    def __init__(self, handler) -> None:
        self.handler = handler
        self.host = "127.0.0.1"
        self.port = free_port()
        self.controller = Controller(
            handler, hostname=self.host, port=self.port, enable_SMTPUTF8=True
        )

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.controller.stop()
