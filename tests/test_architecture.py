"""The tree as the architecture: its layout documented as it is, and imports that keep layers
apart, checked by running Python the way users do."""

from __future__ import annotations

import json
import subprocess
import sys

from scripts import layout
from tests.support import ROOT

SETUP_AND_OPERATOR_CODE = ("shared.topology", "shared.ops", "shared.bootstrap", "shared.admin")


def loaded_after(statement: str) -> list[str]:
    """The modules of ours a fresh interpreter has loaded after running `statement`."""
    code = (
        f"import sys, json; {statement}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('shared', 'producer', 'consumer'))))"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_the_documented_layout_is_the_tree() -> None:
    document = layout.DOCUMENT.read_text()
    assert layout.START in document
    assert document == layout.replaced(document), "run: python -m scripts.layout, or make docs"


def test_importing_shared_loads_none_of_its_layers() -> None:
    assert loaded_after("import shared") == ["shared"]


def test_the_consumer_and_its_entry_point_load_no_setup_code() -> None:
    loaded = loaded_after("import consumer, consumer.__main__, consumer.testing")
    assert "consumer.worker" in loaded
    assert [m for m in loaded if m.startswith(SETUP_AND_OPERATOR_CODE)] == []


def test_the_bootstrap_command_runs_without_a_warning() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "shared.bootstrap", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "--wait" in result.stdout
