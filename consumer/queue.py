"""What the worker calls on a queue: SQS's (`SqsQueue`), or the in-memory one of
`consumer.testing`, which runs the same worker without AWS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from shared.aws import BatchSendResult, EntryFailure, OutgoingMessage, ReceivedMessage
from shared.aws.sqs import QueueAttributeName


class Queue(Protocol):
    name: str

    @property
    def fifo(self) -> bool: ...

    def sibling(self, queue_name: str) -> Queue:
        """Another queue of the same back end: the dead-letter queue."""
        ...

    def attributes(self, *names: QueueAttributeName) -> dict[str, str]: ...

    def max_message_size(self) -> int:
        """The queue's MaximumMessageSize: what dead-letter batches are kept within."""
        ...

    def receive(
        self, *, max_messages: int, wait_time_seconds: int, visibility_timeout: int | None = None
    ) -> list[ReceivedMessage]: ...

    def delete_batch(self, receipt_handles: Sequence[str]) -> list[EntryFailure]: ...

    def change_visibility(self, entries: Sequence[tuple[str, int]]) -> list[EntryFailure]: ...

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult: ...
