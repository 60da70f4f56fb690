"""Every log line is one line: a value from outside cannot forge a line or repaint a terminal."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

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


JSON_SCRIPT = r"""
import logging
from shared import log_context
from shared.logging import configure_logging

configure_logging("INFO", "json", "demo-service")
log = logging.getLogger("demo")
log.info("plain")
with log_context.bound(envelope_id="e-1", correlation_id="c\n1"):
    log.warning("order %s refused", "A-1\n{\"forged\": true}\x9b2J")
    with log_context.bound(message_id="m-1"):
        log_context.add(queue="orders")
        log.info("request", extra={"route": "/messages", "status": 202})
    log.info("after")
try:
    raise ValueError("ours")
except ValueError:
    log.exception("handler failed")
"""


def test_json_lines_are_one_object_each_with_the_ids_bound_where_they_were_logged() -> None:
    done = subprocess.run(
        [sys.executable, "-c", JSON_SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stderr.splitlines()
    assert len(lines) == 5, done.stderr
    plain, refused, request, after, failed = (json.loads(line) for line in lines)
    assert plain["level"] == "INFO"
    assert plain["logger"] == "demo"
    assert plain["service"] == "demo-service"
    assert plain["message"] == "plain"
    assert "envelope_id" not in plain
    datetime.fromisoformat(plain["time"])
    assert refused["message"] == 'order A-1\n{"forged": true}\x9b2J refused'  # intact, escaped
    assert refused["envelope_id"] == "e-1"
    assert refused["correlation_id"] == "c\n1"
    assert request["message_id"] == "m-1"
    assert request["queue"] == "orders"
    assert request["route"] == "/messages"
    assert request["status"] == 202
    assert "message_id" not in after  # the inner scope ended
    assert after["envelope_id"] == "e-1"
    assert failed["exception"].startswith("Traceback (most recent call last):")
    assert failed["exception"].endswith("ValueError: ours")
    assert "\x1b" not in done.stderr
    assert "\x9b" not in done.stderr
