"""The source tree with each module's job, from the first line of its docstring.

`python -m scripts.layout` prints it, and with `--write` (`make docs`) puts it in
docs/architecture.md between its layout markers; a test keeps the two equal, so the layout
cannot go stale.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("shared", "producer", "consumer", "scripts", "bench")
FOLDERS = {"producer/static": "the dashboard: one HTML page, plain CSS and JavaScript modules"}
START, END = "<!-- layout:start -->", "<!-- layout:end -->"
WIDTH = 30


def job(path: Path) -> str:
    """The first sentence of the module's docstring; a module without one is a mistake."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if not docstring:
        raise ValueError(f"{path.relative_to(ROOT)} has no docstring to say what it is for")
    paragraph = " ".join(docstring.split("\n\n", 1)[0].split())
    return re.split(r"(?<=[.:])\s", paragraph, maxsplit=1)[0].rstrip(".:")


def tree(folder: Path, depth: int = 0) -> list[str]:
    relative = folder.relative_to(ROOT).as_posix()
    init = folder / "__init__.py"
    lines = [_line(depth, f"{folder.name}/", job(init) if init.exists() else FOLDERS[relative])]
    for module in sorted(folder.glob("*.py")):
        if module.name != "__init__.py":
            lines.append(_line(depth + 1, module.name, job(module)))
    for sub in sorted(
        p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))
    ):
        if (sub / "__init__.py").exists() or sub.relative_to(ROOT).as_posix() in FOLDERS:
            lines.extend(tree(sub, depth + 1))
    return lines


def _line(depth: int, name: str, text: str) -> str:
    return f"{'  ' * depth}{name}".ljust(WIDTH) + f" {text}".rstrip()


def render() -> str:
    lines = [line for package in PACKAGES for line in tree(ROOT / package)]
    return "\n".join(["```", *lines, "```"])


def replaced(document: str) -> str:
    """`document` with the current layout between its markers."""
    head, _, rest = document.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{render()}\n{END}{tail}"


DOCUMENT = ROOT / "docs" / "architecture.md"


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        DOCUMENT.write_text(replaced(DOCUMENT.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
