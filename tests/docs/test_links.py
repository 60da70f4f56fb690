"""The README and the pages of docs/ link to files that exist and to headings that exist.

Anchors follow GitHub's rules for heading ids: the heading's text in lower case, punctuation
other than hyphens and underscores removed, spaces turned into hyphens, and `-1`, `-2`, ...
added to repeats.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from typing_extensions import override

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
MAX_README_LINES = 200

FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
INLINE_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True)
class Link:
    page: Path
    line: int
    target: str

    @override
    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}: {self.target}"


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    lines: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)[0] * 3
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's id for a heading's text."""
    text = INLINE_LINK.sub(r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: Counter[str] = Counter()
    for _, line in prose_lines(page.read_text(encoding="utf-8")):
        heading = HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading.group(2))
        found.add(base if seen[base] == 0 else f"{base}-{seen[base]}")
        seen[base] += 1
    return found


def links(page: Path) -> list[Link]:
    """Every markdown link and image outside code, with its target as written."""
    found: list[Link] = []
    for number, line in prose_lines(page.read_text(encoding="utf-8")):
        code = [match.span() for match in CODE_SPAN.finditer(line)]
        for match in LINK.finditer(line):
            if not any(start <= match.start() < end for start, end in code):
                found.append(Link(page, number, match.group(1)))
    return found


def relative_links(page: Path) -> list[Link]:
    return [link for link in links(page) if not SCHEME.match(link.target)]


def resolve(link: Link) -> tuple[Path, str | None]:
    """The file a relative link points to, and its anchor if it has one."""
    path, _, anchor = link.target.partition("#")
    file = link.page if not path else (link.page.parent / path).resolve()
    return file, anchor or None


ALL_LINKS = [link for page in PAGES for link in relative_links(page)]


def test_there_are_pages_and_links_to_check() -> None:
    assert len(PAGES) > 1
    assert ALL_LINKS


@pytest.mark.parametrize("link", ALL_LINKS, ids=str)
def test_a_relative_link_points_to_a_file_that_exists(link: Link) -> None:
    file, _ = resolve(link)
    assert file.exists(), f"{link}: no such file {file}"


@pytest.mark.parametrize("link", [link for link in ALL_LINKS if "#" in link.target], ids=str)
def test_an_anchor_matches_a_heading_of_its_page(link: Link) -> None:
    file, anchor = resolve(link)
    assert anchor is not None
    if file.suffix != ".md":
        pytest.fail(f"{link}: anchors are checked only on markdown pages")
    assert anchor in anchors(file), f"{link}: no heading with the id {anchor!r} in {file.name}"


def test_the_readme_is_a_short_front_page() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"


def test_the_readme_links_every_page_of_the_docs() -> None:
    linked = {resolve(link)[0] for link in relative_links(README)}
    missing = [page.name for page in sorted(DOCS.glob("*.md")) if page not in linked]
    assert not missing, f"README.md does not link {missing}"


def test_slugs_follow_githubs_rules() -> None:
    assert slug("Exactly-once effects with idempotency") == "exactly-once-effects-with-idempotency"
    assert slug("Loading handlers: `CONSUMER_HANDLERS`") == "loading-handlers-consumer_handlers"
    assert slug("Retry schedule: `Backoff`") == "retry-schedule-backoff"
    assert slug("Success, failure and `PermanentError`") == "success-failure-and-permanenterror"
    assert slug("See [the API](api.md)") == "see-the-api"


def test_headings_in_code_blocks_are_not_anchors(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n```python\n# a comment\n```\n\n## Title\n", encoding="utf-8")
    assert anchors(page) == {"title", "title-1"}
