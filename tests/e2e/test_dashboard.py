"""The dashboard in headless chromium over the real stack: a message sent through the form
shows in the live feed until it is done, and the status panel finds it done.

The page is driven the way a person would: fields filled, Enter pressed, rows clicked.
A screenshot of the final page is kept in test-artifacts/dashboard.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.conftest import StackFactory
from tests.support import ROOT

pytestmark = pytest.mark.e2e

SCREENSHOT = ROOT / "test-artifacts" / "dashboard.png"
BROWSERS = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking"]
UI_TIMEOUT_MS = 15_000
TYPE = "e2e.record"


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
            page.goto(f"{stack.producer_url}/", timeout=UI_TIMEOUT_MS)
            expect(page.locator("#connection")).to_have_attribute(
                "data-state", "live", timeout=UI_TIMEOUT_MS
            )
            expect(page.locator("#target-field")).to_be_hidden()  # no topics on this producer

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

            page.fill("#lookup-id", "")
            done.click()  # a feed row fills the lookup in
            expect(page.locator("#lookup-id")).to_have_value(message_id)
            expect(found).to_have_attribute("data-stage", "done", timeout=UI_TIMEOUT_MS)

            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
    assert errors == []
