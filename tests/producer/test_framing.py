"""The app's own refusal of ambiguous framing, whatever server parses the request."""

from __future__ import annotations

import pytest

from producer.framing import ambiguity


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ([(b"content-length", b"5"), (b"transfer-encoding", b"chunked")], True),
        ([(b"Content-Length", b"5"), (b"Content-Length", b"6")], True),
        ([(b"transfer-encoding", b"gzip, chunked")], True),
        ([(b"transfer-encoding", b"chunked"), (b"transfer-encoding", b"chunked")], True),
        ([(b"content-length", b"5"), (b"content-length", b"5")], False),  # the same, twice
        ([(b"content-length", b"5")], False),
        ([(b"transfer-encoding", b"Chunked")], False),
        ([], False),
    ],
)
def test_a_body_framed_two_ways_is_refused(
    headers: list[tuple[bytes, bytes]], refused: bool
) -> None:
    assert (ambiguity(headers) is not None) is refused
