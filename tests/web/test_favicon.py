"""Every page names its favicon and offers a skip link to its content."""

from __future__ import annotations

import re


def test_the_favicon_is_linked_and_served(client):
    page = client.get("/connexion").get_data(as_text=True)
    link = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', page)
    assert link, "no favicon link in the base template"
    with client.get(link.group(1)) as icon:
        assert icon.status_code == 200
        assert icon.mimetype == "image/svg+xml"
        assert icon.get_data(as_text=True).startswith("<svg")


def test_every_page_starts_with_a_skip_link_to_its_content(client, login):
    pages = {"/connexion": client.get("/connexion").get_data(as_text=True)}
    login("supervisor")
    for url in ("/supervision/", "/agent/"):
        pages[url] = client.get(url).get_data(as_text=True)
    for url, page in pages.items():
        body = page[page.index("<body") :]
        first_link = re.search(r"<a [^>]*>[^<]*</a>", body).group(0)
        assert 'href="#main"' in first_link and "Aller au contenu" in first_link, url
        assert 'id="main"' in page, url
