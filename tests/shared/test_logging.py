"""Every log line is one line: a value from outside cannot forge a line or repaint a terminal."""

from __future__ import annotations

import subprocess
import sys

from shared.logging import one_line

SCRIPT = r"""
import logging
from shared.logging import configure_logging

configure_logging("INFO")
log = logging.getLogger("demo")
log.warning("order %s refused", "A-1\n2026-12-06 00:00:00,000 ERROR   forged: line")
log.info("topic %s", "\x1b[2J\x1b[31mred\u2028next")
try:
    raise ValueError("ours")
except ValueError:
    log.exception("handler failed for %s", "B-2\r\nC")
"""


def test_control_characters_become_escapes_and_unicode_text_stays() -> None:
    assert one_line("a\nb\r\tc") == r"a\nb\r\tc"
    assert one_line("\x1b[31m") == r"\x1b[31m"
    assert one_line("x\u2028y\x85") == r"x\u2028y\x85"
    assert one_line("Zoë 日本 €") == "Zoë 日本 €"


def test_a_process_logs_each_message_on_one_line_and_keeps_its_tracebacks() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stderr.splitlines()
    messages = [line for line in lines if " demo: " in line]
    assert len(messages) == 3, done.stderr
    assert messages[0].endswith(r"order A-1\n2026-12-06 00:00:00,000 ERROR   forged: line refused")
    assert messages[1].endswith(r"topic \x1b[2J\x1b[31mred\u2028next")
    assert messages[2].endswith(r"handler failed for B-2\r\nC")
    assert not any(line.startswith("2026-12-06 00:00:00,000") for line in lines)
    assert "Traceback (most recent call last):" in lines  # ours, on its own lines
    assert lines[-1] == "ValueError: ours"
    assert "\x1b" not in done.stderr
