"""Many status events in one message body: their JSON array, deflated, in URL-safe characters.

Consumers publish events about once a second, hundreds to a body. SNS takes a publish as a
form-encoded query, and the form encoding escapes a JSON body byte by byte, twice (once to
sign it, once to send it): in a consumer's profile, publishing status cost about a tenth of
its CPU, most of it that escaping. So a body is `z.` and the array deflated (zlib) and
written in URL-safe base64 without padding: about a quarter of the bytes, and not one the
form encoding has to touch. Readers take a plain JSON array as well (`[...]`), as consumers
before this format sent and as anyone may write by hand.

Reading inflates at most `MAX_INFLATED_BYTES`: a small body that would inflate to gigabytes
is refused, not inflated.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterator, Sequence

from shared.messages.status_events import EVENT_LIST, StatusEvent

DEFLATED = "z."
"""The tag of a deflated body; a plain one starts with `[`."""
MAX_BODY_BYTES = 24_000
"""Ten bodies and their signatures fit one PublishBatch, which SNS caps at 256 KiB in all."""
JSON_PER_BODY = 64 * 1024
"""Events' JSON gathered into one body: deflated it comes to a quarter or so of
`MAX_BODY_BYTES`' worth; a body that would not fit is split."""
MAX_INFLATED_BYTES = 4 * 1024 * 1024
"""Most JSON one body may inflate to; ours carry `JSON_PER_BODY` at most."""
_COMPRESSION_LEVEL = 1
"""Deflating costs half as much at level 1 as at 6, for bodies 15% larger."""


Packed = tuple[list[StatusEvent], str]
"""Events, and the body that carries them."""


class EventBodyError(ValueError):
    """A body that is neither a list of events nor one deflated."""


def pack(events: Sequence[StatusEvent]) -> Iterator[Packed]:
    """The events in bodies of at most `MAX_BODY_BYTES`, each with the events it carries."""
    chunk: list[StatusEvent] = []
    texts: list[bytes] = []
    size = 0
    for event in events:
        text = event.__pydantic_serializer__.to_json(event)
        if chunk and size + len(text) > JSON_PER_BODY:
            yield from _fitted(chunk, texts)
            chunk, texts, size = [], [], 0
        chunk.append(event)
        texts.append(text)
        size += len(text) + 1
    if chunk:
        yield from _fitted(chunk, texts)


def _fitted(
    chunk: list[StatusEvent], texts: list[bytes]
) -> Iterator[tuple[list[StatusEvent], str]]:
    """`chunk` as one body, or halved until each half fits (events that barely deflate)."""
    body = deflated(b"[" + b",".join(texts) + b"]")
    if len(body) <= MAX_BODY_BYTES or len(chunk) == 1:
        yield chunk, body
        return
    half = len(chunk) // 2
    yield from _fitted(chunk[:half], texts[:half])
    yield from _fitted(chunk[half:], texts[half:])


def deflated(json_array: bytes) -> str:
    """A JSON array of events as a deflated body."""
    packed = base64.urlsafe_b64encode(zlib.compress(json_array, _COMPRESSION_LEVEL))
    return DEFLATED + packed.rstrip(b"=").decode("ascii")


def read(body: str) -> list[StatusEvent]:
    """The events in `body`, deflated or plain; raises `EventBodyError` or pydantic's
    `ValidationError` for a body that is neither."""
    if not body.startswith(DEFLATED):
        return EVENT_LIST.validate_json(body)
    return EVENT_LIST.validate_json(_inflated(body.removeprefix(DEFLATED)))


def _inflated(packed: str) -> bytes:
    try:
        data = base64.b64decode(packed + "=" * (-len(packed) % 4), altchars=b"-_", validate=True)
        inflate = zlib.decompressobj()
        inflated = inflate.decompress(data, MAX_INFLATED_BYTES)
    except (binascii.Error, ValueError, zlib.error) as exc:
        raise EventBodyError(f"not a deflated list of events: {exc}") from None
    if inflate.unconsumed_tail:
        raise EventBodyError(f"inflates past {MAX_INFLATED_BYTES} bytes")
    if not inflate.eof:
        raise EventBodyError("a deflated body cut short")
    return inflated
