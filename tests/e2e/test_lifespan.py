"""A real consumer process: an async handler's client comes from the lifespan, made once
before the first message, shared by every message on one loop, closed at SIGTERM."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import StackFactory
from tests.support import post_json, wait_for

pytestmark = pytest.mark.e2e

MESSAGES = 30


def test_an_async_handler_shares_one_client_and_loop_and_the_stop_closes_it(
    start_stack: StackFactory, tmp_path: Path
) -> None:
    notes = tmp_path / "lifespan.txt"
    stack = start_stack(
        CONSUMER_HANDLERS="tests.e2e.recording_handlers,tests.e2e.lifespan_handlers",
        E2E_LIFESPAN_FILE=str(notes),
    )
    for n in range(MESSAGES):
        status, body = post_json(
            f"{stack.producer_url}/messages", {"type": "e2e.async", "payload": {"n": n}}
        )
        assert status == 202, body

    def handled() -> list[str]:
        lines = notes.read_text().splitlines() if notes.exists() else []
        return [line for line in lines if line.startswith("handled ")]

    wait_for(lambda: len(handled()) == MESSAGES, timeout=30, what=f"{MESSAGES} handled")
    assert stack.consumer.stop() == 0
    lines = notes.read_text().splitlines()
    assert lines[0] == "opened"
    assert lines[-1] == "closed"
    assert lines.count("opened") == lines.count("closed") == 1
    assert sorted(int(line.split()[1]) for line in handled()) == list(range(MESSAGES))
    assert len({line.split()[2] for line in handled()}) == 1  # one loop
    assert len({line.split()[3] for line in handled()}) == 1  # one client
