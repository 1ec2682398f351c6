"""A live server and Debian's Chromium driven by Playwright.

Playwright's own browser download cannot work on these machines: the tests drive
the Debian package. Without it, the tests are skipped outside CI and fail in CI.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import require_component

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    return next((path for path in CHROMIUM_CANDIDATES if Path(path).exists()), None)


@pytest.fixture
def live_server(app) -> Iterator[str]:
    vendor = Path(app.static_folder) / "vendor" / "htmx.min.js"
    assert vendor.exists(), "static/vendor absent : lancez « make setup »"
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    require_component(executable is not None, "Chromium (paquet Debian « chromium ») introuvable")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    yield page
    context.close()
