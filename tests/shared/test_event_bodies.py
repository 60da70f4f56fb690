"""Event bodies: what consumers pack, the producer reads back, in characters SNS's form
encoding passes as they are; plain JSON arrays still read; bombs and scraps refused."""

from __future__ import annotations

import base64
import urllib.parse
import zlib
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.messages.event_bodies import (
    DEFLATED,
    MAX_BODY_BYTES,
    MAX_INFLATED_BYTES,
    EventBodyError,
    deflated,
    pack,
    read,
)
from shared.messages.status_events import EVENT_LIST, Stage, StatusEvent

events = st.builds(
    StatusEvent,
    id=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40),
    stage=st.sampled_from(Stage),
    type=st.text(max_size=20),
    queue=st.text(max_size=20),
    at=st.datetimes(timezones=st.just(UTC)),
    attempt=st.integers(0, 1000),
    latency_ms=st.none() | st.floats(0, 1e6),
    error=st.none() | st.text(max_size=600),
    topic=st.none() | st.text(max_size=10),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(events, max_size=40))
def test_what_is_packed_reads_back_equal_in_form_safe_characters(sent: list[StatusEvent]) -> None:
    packed = list(pack(sent))
    assert [event for carried, _ in packed for event in carried] == sent
    for carried, body in packed:
        assert read(body) == carried
        assert urllib.parse.quote_plus(body) == body  # nothing for the form encoding to escape
        assert len(body) <= MAX_BODY_BYTES


def test_a_second_of_a_busy_consumers_events_deflates_to_about_a_quarter() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    sent = [
        StatusEvent(
            id=str(uuid4()),
            stage=Stage.DONE,
            type="order.created",
            queue="orders",
            at=at + timedelta(milliseconds=3 * n),
            attempt=1,
            latency_ms=31.5,
        )
        for n in range(1000)
    ]
    bodies = [body for _, body in pack(sent)]
    assert sum(map(len, bodies)) < len(EVENT_LIST.dump_json(sent)) / 3.5


def test_a_plain_json_array_is_read_as_older_consumers_wrote_it() -> None:
    event = StatusEvent(id="m-1", stage=Stage.DONE, type="t", queue="q")
    assert read(EVENT_LIST.dump_json([event]).decode()) == [event]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (DEFLATED + "!!!", "not a deflated list"),
        (deflated(b"[" + b" " * (MAX_INFLATED_BYTES + 10) + b"]"), "inflates past"),
    ],
)
def test_a_body_that_is_not_a_deflated_list_is_refused_without_inflating_it_whole(
    body: str, why: str
) -> None:
    with pytest.raises(EventBodyError, match=why):
        read(body)


def test_a_body_cut_short_is_refused() -> None:
    whole = deflated(
        EVENT_LIST.dump_json([StatusEvent(id="m", stage=Stage.DONE, type="t", queue="q")])
    )
    with pytest.raises(EventBodyError):
        read(whole[: len(whole) // 2])


def test_deflated_bodies_are_zlib_in_url_safe_base64() -> None:
    """The wire format, as docs/wire-format.md gives it to readers in other languages."""
    body = deflated(b"[]")
    packed = body.removeprefix(DEFLATED)
    assert zlib.decompress(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))) == b"[]"
