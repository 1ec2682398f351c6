"""The domain imports no web, mail, scheduler, telephony or rendering library (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[1] / "callcenter" / "domain"
FORBIDDEN = {
    "flask",
    "flask_login",
    "flask_wtf",
    "twilio",
    "vosk",
    "smtplib",
    "apscheduler",
    "segno",
    "weasyprint",
    "PIL",
    "callcenter.providers",
    "callcenter.web",
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted(DOMAIN.rglob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_no_outside_library(path):
    bad = {
        name
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not bad, f"{path.relative_to(DOMAIN.parent)} importe {sorted(bad)}"
