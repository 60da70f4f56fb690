"""Handlers that misbehave on purpose, loaded into a real consumer through CONSUMER_HANDLERS.

What they do is written to journal files in the directory named by E2E_FAULT_DIR, one line
per event: `<envelope id> <pid> <unix time>`. The test process reads them (see
`test_faults.Journal`), so it can count what every consumer process did, across kills and
restarts. Knobs, read at each call: E2E_SLOW_SECONDS (how long `fault.slow` works),
E2E_FLAKY_FAILURES (how many attempts of `fault.flaky` fail), E2E_FAIL_PERCENT (the share
of ids whose first attempt in each process fails in `fault.effect`).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

from consumer import Envelope, handler

STARTED = "started"
COMPLETED = "completed"
ATTEMPTS = "attempts"
FAILURES = "failures"
EFFECTS = "effects"


def _journal(name: str) -> Path:
    return Path(os.environ["E2E_FAULT_DIR"]) / f"{name}.txt"


def note(name: str, envelope: Envelope) -> None:
    """Append one event; a single short O_APPEND write, so processes do not interleave."""
    with _journal(name).open("a") as journal:
        journal.write(f"{envelope.id} {os.getpid()} {time.time():.6f}\n")


def _count(name: str, envelope: Envelope) -> int:
    path = _journal(name)
    if not path.exists():
        return 0
    key = str(envelope.id)
    return sum(line.split(" ", 1)[0] == key for line in path.read_text().splitlines())


@handler("fault.slow")
def on_slow(payload: dict[str, Any], envelope: Envelope) -> None:
    """Works for E2E_SLOW_SECONDS: long enough to be killed or stopped in the middle."""
    note(STARTED, envelope)
    time.sleep(float(os.environ.get("E2E_SLOW_SECONDS", "1")))
    note(COMPLETED, envelope)


@handler("fault.flaky")
def on_flaky(payload: dict[str, Any], envelope: Envelope) -> None:
    """Fails the first E2E_FLAKY_FAILURES attempts of each message, then succeeds."""
    note(ATTEMPTS, envelope)
    attempt = _count(ATTEMPTS, envelope)
    if attempt <= int(os.environ.get("E2E_FLAKY_FAILURES", "2")):
        raise RuntimeError(f"injected failure on attempt {attempt}")
    note(COMPLETED, envelope)


@handler("fault.always")
def on_always(payload: dict[str, Any], envelope: Envelope) -> None:
    note(ATTEMPTS, envelope)
    raise RuntimeError(f"injected permanent breakage of {envelope.id}")


_tried_here: set[str] = set()
_tried_lock = threading.Lock()


def fails_first_time(envelope_id: str) -> bool:
    """Whether this id is among the E2E_FAIL_PERCENT whose first attempt per process fails."""
    digest = int(hashlib.sha256(envelope_id.encode()).hexdigest(), 16)
    return digest % 100 < int(os.environ.get("E2E_FAIL_PERCENT", "10"))


@handler("fault.effect", idempotent=True)
def on_effect(payload: dict[str, Any], envelope: Envelope) -> None:
    """A side effect that must happen once per id, with transient failures before it."""
    note(ATTEMPTS, envelope)
    key = str(envelope.id)
    with _tried_lock:
        first_here = key not in _tried_here
        _tried_here.add(key)
    if first_here and fails_first_time(key):
        note(FAILURES, envelope)
        raise RuntimeError("injected transient failure")
    note(EFFECTS, envelope)
