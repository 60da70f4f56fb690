"""The dashboard in headless chromium over the real stack: a message sent through the form
shows in the live feed until it is done, and the status panel finds it done. With
PRODUCER_API_KEYS set the page asks for a key first, and keeps it out of every URL.

The page is driven the way a person would: fields filled, Enter pressed, rows clicked.
A screenshot of the final page is kept in test-artifacts/dashboard.png.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, WebSocket, expect, sync_playwright

from tests.e2e.conftest import StackFactory
from tests.support import ROOT

pytestmark = pytest.mark.e2e

SCREENSHOT = ROOT / "test-artifacts" / "dashboard.png"
BROWSERS = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking"]
UI_TIMEOUT_MS = 15_000
TYPE = "e2e.record"
CSP = "Content Security Policy"


def browser_binary() -> str:
    """chromium's path; skipped without one, unless CI is set: there it must be installed."""
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium binary found while CI is set: .ci/run installs it")
        pytest.skip("no chromium binary found (apt-get install chromium); CI would fail here")
    return found


def send_from_the_form(page: Page) -> str:
    """Fill the form, submit with the keyboard; returns the id the 202 answer gave."""
    page.fill("#type", TYPE)
    page.fill("#payload", '{"from": "dashboard"}')
    page.fill("#attributes", "tenant=acme")
    page.focus("#send-button")
    page.keyboard.press("Enter")
    accepted = page.locator("#send-result code[data-id]")
    expect(accepted).to_be_visible(timeout=UI_TIMEOUT_MS)
    message_id = accepted.get_attribute("data-id")
    assert message_id
    return message_id


def test_a_message_sent_from_the_dashboard_is_followed_to_done(start_stack: StackFactory) -> None:
    binary = browser_binary()
    stack = start_stack()
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=binary, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda error: errors.append(str(error)))
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.goto(f"{stack.producer_url}/", timeout=UI_TIMEOUT_MS)
            expect(page.locator("#connection")).to_have_attribute(
                "data-state", "live", timeout=UI_TIMEOUT_MS
            )
            expect(page.locator("#target-field")).to_be_hidden()  # no topics on this producer
            expect(page.locator("#key-panel")).to_be_hidden()  # an open producer asks no key
            expect(page.locator("#forget-key")).to_be_hidden()
            # No PRODUCER_ADMIN_TOKEN: the panel says how to turn redrive on, asks no token.
            expect(page.locator("#redrive-form")).to_have_attribute("data-admin", "off")
            expect(page.locator("#token")).to_be_disabled()
            expect(page.locator("#token-hint")).to_contain_text("PRODUCER_ADMIN_TOKEN set")

            message_id = send_from_the_form(page)
            row = page.locator(f'#feed-list button.row[data-id="{message_id}"]')
            expect(row.and_(page.locator('[data-stage="accepted"]'))).to_be_visible(
                timeout=UI_TIMEOUT_MS
            )
            done = row.and_(page.locator('[data-stage="done"]'))  # the consumer's events
            expect(done).to_be_visible(timeout=UI_TIMEOUT_MS)
            assert message_id in stack.handled_ids()
            expect(page.locator("#total-done")).to_have_text("1")
            summary = f"done, {TYPE}, {message_id[:8]}"  # what a screen reader hears
            expect(page.locator("#feed-summary")).to_contain_text(summary, timeout=UI_TIMEOUT_MS)

            page.fill("#lookup-id", message_id)
            page.press("#lookup-id", "Enter")
            found = page.locator(f'#lookup-result [data-id="{message_id}"]')
            expect(found).to_have_attribute("data-stage", "done", timeout=UI_TIMEOUT_MS)
            expect(found.locator("dd .badge")).to_have_text("done")
            queue_cells = found.locator("table.history tbody td:nth-child(3)")
            expect(queue_cells).to_have_text(["messages"] * 4)  # each stage names its queue

            page.fill("#lookup-id", "")
            done.click()  # a feed row fills the lookup in
            expect(page.locator("#lookup-id")).to_have_value(message_id)
            expect(found).to_have_attribute("data-stage", "done", timeout=UI_TIMEOUT_MS)

            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
    assert errors == []
    assert [text for text in console if CSP in text] == []


def test_with_an_admin_token_the_dashboard_redrives(start_stack: StackFactory) -> None:
    binary = browser_binary()
    admin_token = secrets.token_urlsafe(16)
    stack = start_stack(PRODUCER_ADMIN_TOKEN=admin_token)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=binary, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{stack.producer_url}/", timeout=UI_TIMEOUT_MS)
            expect(page.locator("#connection")).to_have_attribute(
                "data-state", "live", timeout=UI_TIMEOUT_MS
            )
            expect(page.locator("#token")).to_be_enabled()
            assert page.locator("#redrive-form").get_attribute("data-admin") is None
            page.fill("#token", "wrong")
            page.click("#redrive-button")
            result = page.locator("#redrive-result")
            expect(result).to_contain_text("not accepted", timeout=UI_TIMEOUT_MS)
            page.fill("#token", admin_token)
            page.click("#redrive-button")
            expect(result).to_contain_text("Moved 0 messages", timeout=UI_TIMEOUT_MS)
        finally:
            browser.close()


def send_with_key(producer_url: str, key: str, label: str) -> str:
    """POST /messages as an API client would, the key in the header; returns the id."""
    request = urllib.request.Request(  # noqa: S310
        f"{producer_url}/messages",
        data=json.dumps({"type": TYPE, "payload": {"from": label}}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            code, body = response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        code, body = exc.code, json.loads(exc.read() or b"{}")
    assert code == 202, body
    return str(body["id"])


def test_a_producer_with_api_keys_asks_for_one_and_keeps_it_out_of_urls(
    start_stack: StackFactory,
) -> None:
    binary = browser_binary()
    # '?', '>' and '~' make the key's base64 hold '+' and '/', which base64url must replace
    key = f"{secrets.token_urlsafe(18)}?>~"
    stack = start_stack(PRODUCER_API_KEYS=f"{secrets.token_urlsafe(18)},{key}")
    secret_forms = {key, base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")}
    secret_forms |= {urllib.parse.quote(key), urllib.parse.quote_plus(key)}
    errors: list[str] = []
    console: list[str] = []
    requests: list[Request] = []
    sockets: list[WebSocket] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=binary, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: console.append(message_text(message)))
            page.on("request", lambda request: requests.append(request))
            page.on("websocket", lambda socket: sockets.append(socket))
            page.goto(f"{stack.producer_url}/", timeout=UI_TIMEOUT_MS)

            connection = page.locator("#connection")
            expect(page.locator("#key-panel")).to_be_visible(timeout=UI_TIMEOUT_MS)
            expect(connection).to_have_attribute("data-state", "locked", timeout=UI_TIMEOUT_MS)
            expect(page.locator("main")).to_be_hidden()
            expect(page.locator("#api-key")).to_be_focused()
            assert sockets == []  # no handshake tried before the key is known good

            page.fill("#api-key", "not-the-key")
            page.press("#api-key", "Enter")
            status = page.locator("#key-status")
            expect(status).to_have_text("That key was not accepted.", timeout=UI_TIMEOUT_MS)
            expect(page.locator("#api-key")).to_have_attribute("aria-invalid", "true")
            expect(page.locator("#key-panel")).to_be_visible()
            expect(connection).to_have_attribute("data-state", "locked")
            assert sockets == []

            before = send_with_key(stack.producer_url, key, "before")  # reaches it in hello
            page.fill("#api-key", key)
            page.click("#key-button")
            expect(connection).to_have_attribute("data-state", "live", timeout=UI_TIMEOUT_MS)
            expect(page.locator("#key-panel")).to_be_hidden()
            expect(page.locator("main")).to_be_visible()
            expect(page.locator("#forget-key")).to_be_visible()
            feed_row = '#feed-list button.row[data-id="{}"][data-stage="accepted"]'.format
            expect(page.locator(feed_row(before))).to_be_visible(timeout=UI_TIMEOUT_MS)
            assert page.evaluate("() => Object.values(sessionStorage)") == [key]

            after = send_with_key(stack.producer_url, key, "after")  # an event frame
            expect(page.locator(feed_row(after))).to_be_visible(timeout=UI_TIMEOUT_MS)

            sent_id = send_from_the_form(page)  # the page's own POST carries the key
            expect(page.locator(feed_row(sent_id))).to_be_visible(timeout=UI_TIMEOUT_MS)
            page.fill("#lookup-id", sent_id)
            page.press("#lookup-id", "Enter")
            found = page.locator(f'#lookup-result [data-id="{sent_id}"]')
            expect(found).to_be_visible(timeout=UI_TIMEOUT_MS)

            page.reload(timeout=UI_TIMEOUT_MS)  # the tab keeps its key
            expect(connection).to_have_attribute("data-state", "live", timeout=UI_TIMEOUT_MS)
            expect(page.locator("#key-panel")).to_be_hidden()

            page.click("#forget-key")
            expect(page.locator("#key-panel")).to_be_visible(timeout=UI_TIMEOUT_MS)
            expect(status).to_contain_text("forgotten")
            expect(connection).to_have_attribute("data-state", "locked")
            expect(page.locator("#feed-list button.row")).to_have_count(0)
            assert page.evaluate("() => sessionStorage.length") == 0

            # a key rotated away while stored: the first 401 forgets it and asks again
            page.evaluate("() => sessionStorage.setItem('sqs-producer.api-key', 'rotated')")
            page.reload(timeout=UI_TIMEOUT_MS)
            expect(status).to_contain_text("no longer accepted", timeout=UI_TIMEOUT_MS)
            expect(connection).to_have_attribute("data-state", "locked")
            assert page.evaluate("() => sessionStorage.length") == 0

            data_calls = [r for r in requests if "/topics" in r.url or "/messages" in r.url]
            assert data_calls
            with_key = [r for r in data_calls if r.header_value("authorization") == f"Bearer {key}"]
            assert len(with_key) >= 4  # checks after the key, the form's POST, the lookup
            assert sockets
            assert all(ws.url.endswith("/feed") for ws in sockets)
        finally:
            browser.close()
    urls = [request.url for request in requests] + [ws.url for ws in sockets]
    leaked = [url for url in urls for form in secret_forms if form in url]
    assert leaked == []
    assert not [text for text in console if any(form in text for form in secret_forms)]
    assert errors == []
    assert [text for text in console if CSP in text] == []


def message_text(message: ConsoleMessage) -> str:
    return f"{message.type}: {message.text}"
