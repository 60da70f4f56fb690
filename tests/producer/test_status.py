"""The status store: stages only move forward, whatever order events arrive in; memory bounded."""

from __future__ import annotations

import gc
import tracemalloc
from uuid import uuid4

import pytest

from producer.tracking.store import MAX_HISTORY, StatusStore
from shared.messages.status_events import Stage, StatusEvent
from tests.producer.events import T0, event

A, R, P, D, F, X = (
    Stage.ACCEPTED,
    Stage.RECEIVED,
    Stage.PROCESSING,
    Stage.DONE,
    Stage.FAILED,
    Stage.DEAD,
)


def feed(store: StatusStore, message: str, *steps: tuple[Stage, float, int]) -> None:
    """Apply (stage, seconds after T0, attempt) events of `message`, in the order given."""
    for stage, seconds, attempt in steps:
        store.apply(event(stage, seconds, id=message, attempt=attempt))


def stage_after(*steps: tuple[Stage, float, int]) -> Stage:
    store, message = StatusStore(10), str(uuid4())
    feed(store, message, *steps)
    found = store.get(message)
    assert found is not None
    return found.stage


def test_a_message_in_order_ends_done_with_its_whole_history() -> None:
    store, message = StatusStore(10), str(uuid4())
    feed(store, message, (A, 0, 0), (R, 1, 1), (P, 1.1, 1))
    store.apply(event(D, 1.5, id=message, latency_ms=1500.0))
    status = store.get(message)
    assert status is not None
    assert status.stage is D
    assert status.latency_ms == 1500.0
    assert status.attempts == 1
    assert status.first_seen == T0
    assert (status.updated - T0).total_seconds() == 1.5
    assert [entry.stage for entry in status.history] == [A, R, P, D]
    assert status.error is None


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param([(D, 2, 1), (P, 1, 1)], D, id="late processing after done"),
        pytest.param([(R, 1, 1), (A, 0, 0)], R, id="accepted heard after received"),
        pytest.param([(P, 2, 1), (R, 1, 1)], P, id="received heard after processing"),
        pytest.param([(D, 3, 1), (X, 4, 1)], D, id="done is final"),
        pytest.param([(F, 2, 1), (R, 3, 2), (P, 3.1, 2)], P, id="retry after failed"),
        pytest.param([(F, 2, 1), (D, 3, 2)], D, id="done after failed"),
        pytest.param([(F, 2, 1), (P, 1, 1)], F, id="straggler from before the failure"),
        pytest.param([(R, 3, 2), (F, 2, 1)], R, id="old failure heard after the retry began"),
        pytest.param([(P, 1, 1), (F, 2, 1)], F, id="failed after processing"),
        pytest.param([(P, 1, 1), (X, 2, 1)], X, id="dead after processing"),
        pytest.param([(X, 5, 5), (R, 60, 1)], R, id="redriven after dead"),
        pytest.param([(X, 5, 5), (P, 4, 5)], X, id="straggler from before dead"),
        pytest.param([(R, 1, 1), (R, 3, 2)], R, id="second receive"),
    ],
)
def test_the_current_stage_never_goes_back(
    steps: list[tuple[Stage, float, int]], expected: Stage
) -> None:
    assert stage_after(*steps) is expected


def test_history_is_in_time_order_whatever_the_arrival_order() -> None:
    store, message = StatusStore(10), str(uuid4())
    feed(store, message, (D, 3, 1), (A, 0, 0), (P, 2, 1), (R, 1, 1))
    status = store.get(message)
    assert status is not None
    assert [entry.stage for entry in status.history] == [A, R, P, D]
    assert status.first_seen == T0


def test_failed_keeps_its_error_and_attempt() -> None:
    store, message = StatusStore(10), str(uuid4())
    feed(store, message, (R, 1, 1), (R, 4, 2))
    store.apply(event(F, 5, id=message, attempt=2, error="TimeoutError: upstream"))
    status = store.get(message)
    assert status is not None
    assert (status.stage, status.error, status.attempts) == (F, "TimeoutError: upstream", 2)


def test_a_repeated_event_is_recorded_once() -> None:
    store = StatusStore(10)
    done = event(D, 1)
    assert store.apply(done) is True
    assert store.apply(StatusEvent.model_validate(done.model_dump())) is False
    status = store.get(done.id)
    assert status is not None
    assert len(status.history) == 1


def test_the_least_recently_updated_message_is_forgotten_first() -> None:
    store = StatusStore(3)
    first, second, third, fourth = (str(uuid4()) for _ in range(4))
    for message in (first, second, third):
        store.apply(event(A, id=message))
    store.apply(event(R, 1, id=first))  # first is fresh again
    store.apply(event(A, id=fourth))
    assert len(store) == 3
    assert store.get(second) is None
    assert all(store.get(m) is not None for m in (first, third, fourth))
    assert store.evicted == 1


def test_history_is_bounded_and_keeps_the_latest() -> None:
    store, message = StatusStore(10), str(uuid4())
    for attempt in range(1, MAX_HISTORY + 10):
        store.apply(event(F, attempt, id=message, attempt=attempt))
    status = store.get(message)
    assert status is not None
    assert len(status.history) == MAX_HISTORY
    assert status.history[-1].attempt == MAX_HISTORY + 9
    assert status.first_seen == event(F, 1).at  # remembered beyond the history kept


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        StatusStore(0)


def test_accepted_leads_the_history_even_when_another_clock_stamped_received_earlier() -> None:
    store, message = StatusStore(10), str(uuid4())
    feed(store, message, (R, 0.0, 1), (A, 0.001, 0), (P, 0.002, 1))  # consumer's clock behind
    status = store.get(message)
    assert status is not None
    assert [entry.stage for entry in status.history] == [A, R, P]


def test_a_remembered_message_takes_about_a_kibibyte_not_its_events_size() -> None:
    """10,000 messages remembered (the default bound) must not weigh what their events do:
    four pydantic events per message took 4.9 KiB; the store keeps plain steps with the
    queue and type names shared. Events are read from JSON, as the events reader gets them,
    so no string is shared by accident."""
    messages, stages = 2000, ((A, 0), (R, 1), (P, 1), (D, 1))
    bodies = [
        event(stage, 0.1 * n, id=str(uuid4()), attempt=attempt, latency_ms=5.0).model_dump_json()
        for n in range(messages)
        for stage, attempt in stages
    ]
    ids = [StatusEvent.model_validate_json(body).id for body in bodies[:: len(stages)]]
    store = StatusStore(messages)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index, body in enumerate(bodies):
            parsed = StatusEvent.model_validate_json(body)
            store.apply(parsed.model_copy(update={"id": ids[index // len(stages)]}))
            del parsed
        gc.collect()
        per_message = (tracemalloc.get_traced_memory()[0] - before) / messages
    finally:
        tracemalloc.stop()
    assert len(store) == messages
    assert per_message < 1536, f"{per_message:.0f} bytes per message"


def test_the_events_given_back_are_the_events_applied() -> None:
    store, message = StatusStore(10), str(uuid4())
    applied = [
        event(A, 0, id=message, topic="orders"),
        event(R, 1, id=message, queue="eu"),
        event(F, 2, id=message, queue="eu", error="boom"),
        event(D, 3, id=message, queue="us", latency_ms=3000.0),
    ]
    for one in applied:
        store.apply(one)
    assert store.events(message) == applied
    assert store.events("unknown") == []
