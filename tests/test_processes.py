"""The local run relays each child's output line by line: text lines get the child's name in
front, JSON lines (`LOG_FORMAT=json`) pass as they are, so they stay JSON."""

from __future__ import annotations

import json
import sys

import pytest

from scripts.processes import Child

SCRIPT = 'print(\'{"service": "consumer", "message": "up"}\'); print("plain line")'


def test_text_lines_are_prefixed_and_json_lines_pass_unchanged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    child = Child("consumer", ["-c", SCRIPT], {"PATH": "/usr/bin:/bin"}, python=sys.executable)
    assert child.process.wait(30) == 0
    child.stop()
    lines = capsys.readouterr().out.splitlines()
    assert json.loads(lines[0]) == {"service": "consumer", "message": "up"}
    assert lines[1] == "[consumer] plain line"
