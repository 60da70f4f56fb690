"""The dashboard page and its static files, served by the producer with no build step."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

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
