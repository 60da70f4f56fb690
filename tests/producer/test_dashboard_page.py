"""The dashboard page and its static files, served by the producer with no build step."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from fastapi.testclient import TestClient
from typing_extensions import override

from producer.routes.dashboard import STATIC_DIR

CONTENT_TYPES = {".js": "javascript", ".css": "text/css"}


def test_the_page_is_served_at_the_root(client: TestClient) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    for landmark in ('id="send-form"', 'id="feed-list"', 'id="lookup-form"', 'id="rate-chart"'):
        assert landmark in page


def test_every_file_the_page_and_its_modules_load_is_served(client: TestClient) -> None:
    page = client.get("/").text
    wanted = re.findall(r'(?:href|src)="(static/[^"]+)"', page)
    assert "static/app.js" in wanted
    seen: set[str] = set()
    while wanted:
        path = wanted.pop()
        if path in seen:
            continue
        seen.add(path)
        answer = client.get(f"/{path}")
        assert answer.status_code == 200, path
        suffix = path[path.rindex(".") :]
        assert CONTENT_TYPES[suffix] in answer.headers["content-type"], path
        if suffix == ".js":  # follow the module imports, as the browser will
            wanted += [f"static/{name}" for name in re.findall(r'from "\./([^"]+)"', answer.text)]
    assert {f"static/{p.name}" for p in STATIC_DIR.glob("*.js")} <= seen  # none unused


def test_no_page_loads_anything_from_elsewhere() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text()
        assert not re.search(r"(?:src|href)=\"(?:https?:)?//", text), path.name
        assert "import(" not in text, path.name
        assert not re.search(r'from "(?!\./)', text), path.name


class _Inline(HTMLParser):
    """What in a page a `script-src 'self'; style-src 'self'` policy would block."""

    @override
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.labels: set[str] = set()
        self._in: str | None = None

    @override
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "style":
            self.found.append("a <style> block")
        if tag == "script":
            if not values.get("src"):
                self.found.append("a <script> without src")
            self._in = "script"
        for name, value in attrs:
            if name == "style":
                self.found.append(f'style="..." on <{tag}>')
            if name.startswith("on"):
                self.found.append(f"an {name} handler on <{tag}>")
            if value and value.strip().lower().startswith("javascript:"):
                self.found.append(f"a javascript: URL in {name} of <{tag}>")
        if tag == "input" and values.get("id"):
            self.inputs[values["id"] or ""] = values
        if tag == "label" and values.get("for"):
            self.labels.add(values["for"] or "")

    @override
    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in = None

    @override
    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.found.append("a <script> with inline code")


def _parse_page() -> _Inline:
    parser = _Inline()
    parser.feed((STATIC_DIR / "index.html").read_text())
    parser.close()
    return parser


def test_the_page_has_nothing_inline_that_its_content_security_policy_blocks() -> None:
    assert _parse_page().found == []


def test_the_scripts_use_nothing_the_content_security_policy_blocks() -> None:
    blocked = {
        "eval": r"\beval\s*\(",
        "new Function": r"\bnew\s+Function\b",
        "a string to setTimeout": r"set(?:Timeout|Interval)\(\s*[\"'`]",
        "a javascript: URL": r"javascript:",
        "HTML from strings": r"\.(?:inner|outer)HTML\s*=|insertAdjacentHTML|document\.write",
        "a style attribute": r"setAttribute\(\s*[\"']style",
    }
    for path in STATIC_DIR.glob("*.js"):
        text = path.read_text()
        for what, pattern in blocked.items():
            assert not re.search(pattern, text), f"{path.name}: {what}"


def test_the_api_key_field_is_labelled_masked_and_never_submitted() -> None:
    page = _parse_page()
    key = page.inputs["api-key"]
    assert "api-key" in page.labels
    assert key.get("type") == "password"
    assert "name" not in key  # without a name the browser never puts it in a form's URL
    assert 'id="key-form"' in (STATIC_DIR / "index.html").read_text()
