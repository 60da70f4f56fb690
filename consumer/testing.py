"""Testing handlers without AWS: the real worker, in memory, in one call.

```python
import myapp.handlers  # importing the module registers its @handler functions
from consumer.testing import TestConsumer


def test_a_zero_amount_is_dead_lettered() -> None:
    consumer = TestConsumer()
    consumer.send("order.created", {"order_id": "A-1", "amount": 0})
    assert consumer.drain().dead[0].reason == "permanent_error"
```

The registry's default handler, which acknowledges any type, is left out unless
`default_handler=True`: a message your handlers do not take is dead-lettered `no_handler`,
so a test cannot pass because nothing ran.

Dispatch, payload validation, retries with backoff, dead letters with their reasons and
idempotency run as they do over SQS; the queues are `consumer.memory_queue`'s, and their
clock is virtual, so a retry due minutes later runs at once and `drain` takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from consumer.idempotency import IdempotencyStore, MemoryStore
from consumer.memory_queue import MemoryBroker, MemoryQueue
from consumer.metrics import Metrics
from consumer.registry import HandlerRegistry
from consumer.registry import registry as default_registry
from consumer.worker import Worker
from shared import tracing
from shared.aws import OutgoingMessage
from shared.messages.dead_letter import DeadLetter, dead_letter_queue_of
from shared.messages.envelope import Envelope
from shared.messages.status_events import Stage, StatusEvent
from shared.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

__all__ = ["Drained", "MemoryBroker", "MemoryQueue", "TestConsumer"]

MAX_ROUNDS = 1000
"""Most clock jumps one `drain` makes: a handler failing for ever still ends."""


@dataclass(frozen=True)
class Drained:
    """What one `drain` did."""

    done: list[str]
    """Envelope ids whose handler succeeded (or had already, for an idempotent one)."""
    dead: list[DeadLetter]
    """Everything in the dead-letter queue, with the reason each died."""
    receives: int
    """Messages received, redeliveries included."""
    waiting: int
    """Messages still in the queue: a drain that hit `max_rounds` leaves some."""


@dataclass
class _Events:
    events: list[StatusEvent] = field(default_factory=list)

    def publish(self, event: StatusEvent) -> None:
        self.events.append(event)


class TestConsumer:
    """One queue and its dead-letter queue in memory, consumed by the real `Worker`."""

    __test__ = False  # a helper for tests, not a test class pytest should collect

    def __init__(
        self,
        registry: HandlerRegistry = default_registry,
        *,
        settings: Settings | None = None,
        store: IdempotencyStore | None = None,
        queue_name: str = "messages",
        default_handler: bool = False,
    ) -> None:
        """`registry` defaults to the one `@handler` registers in; its default handler runs
        only with `default_handler=True`."""
        self.settings = settings or Settings(_env_file=None, sqs={"wait_time_seconds": 0})
        sqs = self.settings.sqs
        self.broker = MemoryBroker(sqs.visibility_timeout, sqs.max_receive_count)
        self.dlq_name = dead_letter_queue_of(queue_name, sqs)
        self.queue = self.broker.queue(queue_name, dead_letter_queue=self.dlq_name)
        self.dlq = self.broker.queue(self.dlq_name)
        self.metrics = Metrics()
        self._events = _Events()
        self.registry = registry if default_handler else registry.without_default()
        self.worker = Worker(
            self.queue,
            self.registry,
            self.settings,
            self.metrics,
            store if store is not None else MemoryStore(),
            events=self._events,
        )

    @property
    def events(self) -> list[StatusEvent]:
        """Every status event the worker recorded: received, processing, done, failed, dead."""
        return self._events.events

    def send(
        self,
        message_type: str,
        payload: dict[str, Any],
        *,
        group_id: str | None = None,
        **fields: Any,
    ) -> Envelope:
        """Enqueue an envelope as the producer would, with the current trace context (a span
        the test started); `fields` are the envelope's others, `group_id` the FIFO group (on
        a FIFO queue, `default` unless given)."""
        envelope = Envelope(type=message_type, payload=payload, **fields)
        group = group_id or ("default" if self.queue.fifo else None)
        self.queue.send_batch(
            [
                envelope.outgoing(
                    group_id=group,
                    deduplication_id=str(envelope.id) if group else None,
                    trace=tracing.outgoing(),
                )
            ]
        )
        return envelope

    def send_envelope(self, envelope: Envelope) -> Envelope:
        """Enqueue an envelope made by the test, as it is."""
        self.queue.send_batch([envelope.outgoing()])
        return envelope

    def send_body(
        self,
        body: str,
        attributes: Mapping[str, str | MessageAttributeValueTypeDef] | None = None,
    ) -> None:
        """Enqueue a body as another system might write it: a plain string attribute is a
        String one, a dict an attribute as SQS takes it (`{"DataType": "Binary", ...}`)."""
        values: dict[str, MessageAttributeValueTypeDef] = {
            name: {"DataType": "String", "StringValue": value} if isinstance(value, str) else value
            for name, value in (attributes or {}).items()
        }
        self.queue.send_batch([OutgoingMessage("0", body, values)])

    def __enter__(self) -> TestConsumer:
        """Enter the handlers' resources (`@resource`) as the consumer does at start."""
        self.registry.resources.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Leave the handlers' resources, as the consumer does at the stop."""
        self.registry.resources.close()

    def drain(self, *, max_rounds: int = MAX_ROUNDS) -> Drained:
        """Run the worker until the queue is empty, jumping the clock to each retry. The
        handlers' resources are entered first if they are not yet (`close` leaves them)."""
        self.registry.resources.open()
        received_before = self._received()
        events_before = len(self.events)
        for _ in range(max_rounds):
            self.worker.run(until_empty=True)
            if not self.broker.advance():
                break
        return Drained(
            done=[str(e.id) for e in self.events[events_before:] if e.stage is Stage.DONE],
            dead=[DeadLetter.from_message(m) for m in self.dlq.received()],
            receives=self._received() - received_before,
            waiting=len(self.queue.stored),
        )

    def _received(self) -> int:
        value = self.metrics.registry.get_sample_value("sqs_messages_received_total")
        return int(value or 0)
