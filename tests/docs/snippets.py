"""The code blocks of the README and docs/, read with a Markdown parser, and what each is.

A Python block starts with a comment naming the file a user saves it as
(`# myapp/handlers.py`): the blocks together are one small project, which the tests write
out and run as a user would, imports and all. Test runners that execute each block on its
own (pytest-markdown-docs, pytest-examples) cannot import one block from another, and the
point of these examples is that `myapp.handlers` is a module your tests import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FILE_COMMENT = re.compile(r"^# (?P<path>[\w./-]+\.py)\n")
LOCAL_PRODUCER = "http://127.0.0.1:8000"
LOCAL_CONSUMER = "http://127.0.0.1:8001"


@dataclass(frozen=True)
class Block:
    document: Path
    line: int
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"

    @property
    def file(self) -> str | None:
        """The path a Python block is saved as, from its first line."""
        found = FILE_COMMENT.match(self.text)
        return found["path"] if found else None


def blocks(language: str | None = None) -> list[Block]:
    """Every fenced block of every document, in order; only `language`'s when given."""
    parser = MarkdownIt("commonmark")
    found = []
    for document in DOCUMENTS:
        for token in parser.parse(document.read_text(encoding="utf-8")):
            if token.type != "fence" or token.map is None:
                continue
            kind = token.info.split()[0] if token.info.strip() else ""
            if language is None or kind == language:
                found.append(Block(document, token.map[0] + 1, kind, token.content))
    return found


def python_project() -> dict[str, str]:
    """The Python blocks as the files they name; raises if two blocks name one file and
    differ."""
    files: dict[str, Block] = {}
    for block in blocks("python"):
        path = block.file
        if path is None:
            raise ValueError(f"{block.where}: a Python block starts with `# <the file's path>`")
        if path in files and files[path].text != block.text:
            raise ValueError(f"{block.where} and {files[path].where} show {path} differently")
        files.setdefault(path, block)
    return {path: block.text for path, block in files.items()}


def talks_to_the_local_run(block: Block) -> bool:
    return LOCAL_PRODUCER in block.text or LOCAL_CONSUMER in block.text
