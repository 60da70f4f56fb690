"""One watchdog holds every handler call to its limit: the first of the call's return and its
overrun decides, once; the shutdown deadline cuts every limit short; claims are renewed."""

from __future__ import annotations

from functools import partial

from consumer.shutdown import Shutdown
from consumer.watchdog import Watchdog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def watchdog(clock: Clock, shutdown: Shutdown | None = None) -> Watchdog:
    return Watchdog(shutdown or Shutdown(2.0), limit_seconds=10, clock=clock)


def test_a_call_past_its_limit_is_overrun_once_and_its_return_then_loses() -> None:
    clock = Clock()
    dog = watchdog(clock)
    overruns: list[str] = []
    renewals: list[float] = []
    watch = dog.watch(lambda: overruns.append("late"), lambda: renewals.append(clock.now))
    clock.now += 9.9
    dog.run()
    assert overruns == []
    assert renewals == [clock.now]  # renewed while it runs
    clock.now += 0.1
    dog.run()
    dog.run()
    assert overruns == ["late"]
    assert dog.watched == 0
    assert dog.done(watch) is False  # the call came back too late: not its to settle


def test_a_call_that_returns_in_time_is_never_overrun() -> None:
    clock = Clock()
    dog = watchdog(clock)
    overruns: list[str] = []
    watch = dog.watch(lambda: overruns.append("late"))
    clock.now += 5
    assert dog.done(watch) is True
    clock.now += 60
    dog.run()
    assert overruns == []
    assert dog.watched == 0


def test_the_shutdown_deadline_cuts_every_limit_short() -> None:
    shutdown = Shutdown(grace_seconds=0.0)  # the deadline is the real clock's now
    dog = Watchdog(shutdown, limit_seconds=3600)
    overruns: list[int] = []
    for n in range(3):
        dog.watch(partial(overruns.append, n))
    dog.run()
    assert overruns == []
    shutdown.request()
    dog.run()
    assert sorted(overruns) == [0, 1, 2]
