"""The mail catcher: a real SMTP server that keeps each message once, and its inbox page."""

import re
import smtplib
from email.message import EmailMessage

from callcenter.providers.mailcatcher import start_catcher
from tests.smtp_server import free_port


def _message(subject: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Relances <relances@exemple.fr>"
    message["To"] = "Hélène Dupré <helene@exemple.fr>"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    message.set_content("Bonjour Hélène")
    message.add_alternative("<p>Bonjour <b>Hélène</b></p><script>alert(1)</script>", subtype="html")
    return message


def test_catcher_keeps_each_message_once_and_the_inbox_shows_it(app, client, login, settings):
    folder = settings.data_path / "mailcatcher"
    port = free_port()
    controller = start_catcher(folder, "127.0.0.1", port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.send_message(_message("Récapitulatif de notre appel", "<abc@exemple.fr>"))
            smtp.send_message(_message("Récapitulatif de notre appel", "<abc@exemple.fr>"))
            smtp.send_message(_message("Rappel d'échéance", "<def@exemple.fr>"))
    finally:
        controller.stop()
    assert len(list(folder.glob("*.eml"))) == 2

    login("agent")
    inbox = client.get("/courriels/").get_data(as_text=True)
    assert inbox.count("Récapitulatif de notre appel") == 1
    assert "Rappel d&#39;échéance" in inbox
    key = re.search(r'href="/courriels/([0-9a-f]{32})"', inbox).group(1)
    page = client.get(f"/courriels/{key}").get_data(as_text=True)
    assert "Hélène Dupré" in page and 'sandbox src="/courriels/' in page
    frame = client.get(f"/courriels/{key}/html")
    assert "<b>Hélène</b>" in frame.get_data(as_text=True)
    assert frame.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert client.get("/courriels/inconnu").status_code == 404
    assert client.get("/courriels/../secret_key").status_code == 404
