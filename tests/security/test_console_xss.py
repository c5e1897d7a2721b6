"""Attack on the teacher's console (issue 13): a participant names notebooks with HTML/JS.

A workshop participant saves notebooks whose names are markup and script (an ``<img onerror>``,
a quote-breaking ``<svg onload>``, an attribute injection, a ``javascript:`` URL) and opens
them, so that their server's ``/api/sessions`` lists those paths. The teacher then watches the
live table in a real Chromium (logged in through the hub's login form): the names must show
as text, and none of the scripts may run (``window.__pwned`` stays undefined, no element of
the payload exists in the table). Real hub, proxy, console service, Docker, user image,
kernel and browser.

Seen failing: with ``el()`` in vre_core/static/vre.js inserting strings as HTML
(``innerHTML``), the ``<img onerror>`` runs and this test fails.
"""

import secrets
from urllib.parse import quote

import pytest
import requests

from vre_testing import CHROMIUM_ARGS, browser_login
from vre_workshop.service import TEACHERS_GROUP

pytestmark = [pytest.mark.docker]
# Each would set window.__pwned if the page ever treated the name as HTML (or followed it as a URL).
HOSTILE = [
    "<img src=x onerror=window.__pwned=1>.ipynb",
    "\"><svg onload=window.__pwned=2>.ipynb",
    "' onmouseover='window.__pwned=3' x='.ipynb",
    "javascript:window.__pwned=4.ipynb",
]
NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_hostile_notebook_names_show_as_text_in_the_teachers_console(hub):
    from playwright.sync_api import sync_playwright

    password = secrets.token_urlsafe(12)
    teacher, teacher_token = hub.new_user(password=password)
    if hub.client.group(TEACHERS_GROUP) is None:
        hub.client.create_group(TEACHERS_GROUP, [])
    hub.client.request("POST", f"/groups/{TEACHERS_GROUP}/users", json={"users": [teacher]})
    api = f"{hub.url}/services/workshop/api"
    made = requests.post(f"{api}/workshops", headers={"Authorization": f"token {teacher_token}"}, timeout=300,
                         json={"name": f"{hub.prefix}-xss", "seats": 1})
    assert made.status_code == 201, made.text
    participant = made.json()["participants"][0]
    hub.users.append(participant)  # removed with the hub

    # The participant: their server, the hostile notebooks saved and opened (one kernel for all).
    hub.client.start_server(participant)
    server = f"{hub.url}/user/{participant}/api"
    headers = {"Authorization": f"token {hub.client.token_for(participant, note='xss test')}"}
    kernel = None
    for name in HOSTILE:
        saved = requests.put(f"{server}/contents/{quote(name)}", headers=headers, timeout=30,
                             json={"type": "notebook", "content": NOTEBOOK})
        assert saved.status_code in (200, 201), (name, saved.text)
        spec = {"id": kernel} if kernel else {"name": "python3"}
        opened = requests.post(f"{server}/sessions", headers=headers, timeout=60,
                               json={"path": name, "type": "notebook", "kernel": spec})
        assert opened.status_code == 201, (name, opened.text)
        kernel = opened.json()["kernel"]["id"]
    listed = {s["path"] for s in requests.get(f"{server}/sessions", headers=headers, timeout=30).json()}
    assert set(HOSTILE) <= listed

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(60_000)
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        try:
            browser_login(page, hub.url, teacher, password, then="/services/workshop/")
            row = page.locator(f"#status tr[data-user='{participant}']")
            notebooks = row.locator("td").nth(5)  # the "Open notebooks" column
            page.wait_for_function(
                "(user) => { const r = document.querySelector(`#status tr[data-user='${user}']`);"
                " return r && r.cells[5].childNodes.length > 0; }", arg=participant)
            page.wait_for_timeout(1500)  # an onerror/onload would have fired by now
            row.hover()  # and an injected onmouseover
            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert page.locator("#status img, #status svg, #status [onmouseover], #status a").count() == 0
            shown = notebooks.inner_text()
            assert all(name in shown for name in HOSTILE), shown  # the names, as text
            assert dialogs == []
        finally:
            browser.close()
    hub.client.stop_server(participant)
