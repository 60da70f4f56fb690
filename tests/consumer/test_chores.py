from __future__ import annotations

import threading
import time

import pytest
from typing_extensions import override

from consumer.chores import Chore, Chores

WAIT_SECONDS = 5.0


class Recording(Chore):
    def __init__(self, name: str, log: list[str], *, period: float = 0.01) -> None:
        super().__init__()
        self.name = name
        self.period = period
        self.log = log
        self.passes = threading.Semaphore(0)
        self.count = 0
        self.threads: set[str] = set()

    @override
    def run(self) -> None:
        self.threads.add(threading.current_thread().name)
        self.count += 1
        self.passes.release()

    @override
    def finish(self) -> None:
        self.log.append(f"{self.name} finished")


class Failing(Recording):
    def __init__(self, log: list[str]) -> None:
        super().__init__("failing", log)
        self.calls = 0

    @override
    def run(self) -> None:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("a bug in one pass")
        super().run()


def test_chores_stop_in_the_reverse_order_each_after_its_thread() -> None:
    log: list[str] = []
    first, second = Recording("first", log), Recording("second", log)
    with Chores(first, second).running():
        assert first.passes.acquire(timeout=WAIT_SECONDS)
        assert second.passes.acquire(timeout=WAIT_SECONDS)
    assert log == ["second finished", "first finished"]
    assert first.threads == {"first"}  # each on its own thread, named for the duty
    assert second.threads == {"second"}
    passes = first.count
    time.sleep(0.05)
    assert first.count == passes  # no pass after the stop


def test_a_pass_that_raises_is_logged_and_the_chore_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chore = Failing([])
    with Chores(chore).running():
        assert chore.passes.acquire(timeout=WAIT_SECONDS)  # the second pass ran
    assert "failing failed; carrying on" in caplog.text


def test_wake_runs_a_pass_before_the_period() -> None:
    chore = Recording("slow", [], period=60)
    with Chores(chore).running():
        assert not chore.passes.acquire(timeout=0.1)
        chore.wake.set()
        assert chore.passes.acquire(timeout=WAIT_SECONDS)


def test_a_chore_without_a_period_gets_only_its_last_pass() -> None:
    log: list[str] = []
    chore = Recording("once", log, period=0)
    with Chores(chore).running():
        assert not any(t.name == "once" for t in threading.enumerate())
    assert log == ["once finished"]
    assert chore.threads == set()
