"""Large payloads on the consumer's side: the body fetched from S3 before the handler runs,
the object deleted once the message is acknowledged.

A message is a pointer when it carries the extended clients' size attribute (see
`shared.messages.large_payload`), whoever wrote it and whichever bucket it names. The
object is deleted only after SQS confirmed the message's delete, so a failed delete leaves
a message that can still be read; a dead letter and a redrive keep the pointer, so its
object stays. `SQS_LARGE_PAYLOAD_DELETE=false` keeps every object, for a shared bucket.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from shared.aws import AwsError, ReceivedMessage
from shared.messages.large_payload import LargePayloads, PayloadPointer, pointer_of

log = logging.getLogger(__name__)


class StoredBodies:
    """Reads and discards the S3 objects of large messages; safe to share between threads."""

    def __init__(self, payloads: Callable[[], LargePayloads], *, delete: bool = True) -> None:
        """`payloads` is called once, on the first large message: most workers never need S3."""
        self._make = payloads
        self._payloads: LargePayloads | None = None
        self._lock = threading.Lock()
        self.delete = delete

    @property
    def payloads(self) -> LargePayloads:
        if self._payloads is None:
            with self._lock:
                if self._payloads is None:
                    self._payloads = self._make()
        return self._payloads

    def body_of(self, message: ReceivedMessage) -> tuple[str, PayloadPointer | None]:
        """The message's real body, and where it was stored when it came from S3.

        Raises `PointerError` for a broken pointer, `ObjectMissingError` for a missing
        object, `AwsError` when S3 cannot be reached.
        """
        pointer = pointer_of(message.body, message.attributes)
        if pointer is None:
            return message.body, None
        return self.payloads.fetch(pointer), pointer

    def acknowledged(self, messages: Sequence[ReceivedMessage]) -> None:
        """Delete the objects of handled messages SQS has deleted; a failure is logged (the
        object is left behind, never the message)."""
        if not self.delete:
            return
        pointers = []
        for message in messages:
            try:
                pointer = pointer_of(message.body, message.attributes)
            except ValueError:
                continue
            if pointer is not None:
                pointers.append(pointer)
        if not pointers:
            return
        try:
            kept = self.payloads.discard(pointers)
        except AwsError as exc:
            log.warning("stored bodies not deleted (%s): %s", exc, ", ".join(map(str, pointers)))
            return
        for pointer in kept:
            log.warning("stored body not deleted: %s", pointer)
