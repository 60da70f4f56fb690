"""One trace across the queue: the W3C trace context travels with each message.

The producer continues the trace a POST came with (its `traceparent` header), or starts one,
and sends each message with `traceparent` (and `tracestate`, when there is one and room) as
message attributes. The consumer's span for a message is the child of that send; AWS's own
`AWSTraceHeader` (X-Ray) is read when there is no `traceparent`. A receive of many messages
is a span of its own, linked to each message's trace, as OpenTelemetry's messaging
conventions say.

Only the OpenTelemetry API is needed. With no SDK installed (or configured), spans record
nothing, yet every span here still has ids: a trace id from the message, the POST or a new
one, and a fresh span id per hop. They are bound to the log lines (`shared.log_context`), so
a message's lines carry one trace id across every process at the cost of a few random
numbers. With the SDK (`pip install sqs-services[otel]`, `shared.telemetry`), the same spans
are recorded and exported as the standard `OTEL_*` variables say.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared import log_context
from shared.aws.entries import ReceivedMessage, attribute_text
from shared.messages.envelope import TRACEPARENT_ATTRIBUTE, TRACESTATE_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

TRACE_ATTRIBUTES = (TRACEPARENT_ATTRIBUTE, TRACESTATE_ATTRIBUTE)
"""Message attributes the trace context travels in; `traceparent` counts in the envelope's
share of SQS's ten, `tracestate` rides only where a message has a slot to spare."""
AWS_TRACE_HEADER = "AWSTraceHeader"
MESSAGING_SYSTEM = "aws_sqs"

_tracer = trace.get_tracer("sqs-services")
_W3C = TraceContextTextMapPropagator()
"""Only W3C trace context travels with a message (`traceparent`, `tracestate`), whatever
`OTEL_PROPAGATORS` names: the composite default would look for baggage in vain each time."""
_recording = False
_ids = random.Random()  # noqa: S311 - trace ids must be unique, not secret
_AWS_TRACE = re.compile(
    r"Root=1-(?P<time>[0-9a-f]{8})-(?P<rest>[0-9a-f]{24});Parent=(?P<parent>[0-9a-f]{16})"
    r"(?:;Sampled=(?P<sampled>[01]))?",
)


def incoming(carrier: Mapping[str, str]) -> Context | None:
    """The trace context in HTTP headers or message attributes (W3C trace context); None
    when they carry none (a span under it starts a trace)."""
    return _W3C.extract(carrier) if carrier else None


def from_aws_trace_header(header: str | None) -> Context | None:
    """The context in an X-Ray `AWSTraceHeader` (`Root=1-…;Parent=…;Sampled=1`)."""
    found = _AWS_TRACE.search(header or "")
    if found is None:
        return None
    parent = SpanContext(
        trace_id=int(found["time"] + found["rest"], 16),
        span_id=int(found["parent"], 16),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED if found["sampled"] == "1" else 0),
    )
    if not parent.is_valid:
        return None
    return trace.set_span_in_context(NonRecordingSpan(parent))


def of_message(attributes: Mapping[str, str | None], trace_header: str | None) -> Context | None:
    """The trace a received message continues: its `traceparent` attribute, else its
    `AWSTraceHeader`; None when it carries neither (its handling starts a trace)."""
    carrier = {name: value for name in TRACE_ATTRIBUTES if (value := attributes.get(name))}
    found = incoming(carrier)
    if found is not None and span_context_of(found).is_valid:
        return found
    return from_aws_trace_header(trace_header)


def recording() -> bool:
    """Whether an SDK records spans: without one, a span that is only linked is not made.
    Once one does, it always will: OpenTelemetry sets the global provider only once."""
    global _recording
    if not _recording:
        _recording = not isinstance(
            trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
        )
    return _recording


def message_parent(
    message: ReceivedMessage,
    notified: Mapping[str, MessageAttributeValueTypeDef] | None = None,
) -> Context | None:
    """`of_message` for a message as received from SQS. `notified`: the attributes an SNS
    notification carried in its body, whose `traceparent` is read when the message's own
    attributes have none (a publisher's context, delivered without raw delivery)."""
    carrier = {name: message.text_attribute(name) for name in TRACE_ATTRIBUTES}
    if not carrier[TRACEPARENT_ATTRIBUTE] and notified:
        carrier = {name: attribute_text(notified.get(name)) for name in TRACE_ATTRIBUTES}
    return of_message(carrier, message.trace_header)


def record_receive(destination: str, parents: Sequence[Context | None], started_ns: int) -> None:
    """A receive of several messages as one span linked to each message's trace (a batch
    has no single parent)."""
    links = [
        Link(context)
        for parent in parents
        if parent is not None and (context := span_context_of(parent)).is_valid
    ]
    _tracer.start_span(
        f"receive {destination}",
        kind=SpanKind.CONSUMER,
        links=links,
        start_time=started_ns,
        attributes=messaging_attributes("receive", destination, count=len(parents)),
    ).end()


def outgoing() -> dict[str, str]:
    """The current trace context, as the attributes a message carries it in."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return {name: carrier[name] for name in TRACE_ATTRIBUTES if carrier.get(name)}


def span_context_of(context: Context) -> SpanContext:
    return trace.get_current_span(context).get_span_context()


def span(
    name: str,
    kind: SpanKind,
    *,
    parent: Context | None = None,
    links: Sequence[Link] = (),
    attributes: Mapping[str, Any] | None = None,
) -> AbstractContextManager[Span]:
    """A span, current within, its ids bound to the log lines; ids even without an SDK."""
    if recording():
        return _recorded(name, kind, parent, links, attributes)
    return _Unrecorded(parent)


@contextmanager
def _recorded(
    name: str,
    kind: SpanKind,
    parent: Context | None,
    links: Sequence[Link],
    attributes: Mapping[str, Any] | None,
) -> Iterator[Span]:
    with (
        _tracer.start_as_current_span(
            name, context=parent, kind=kind, links=links, attributes=attributes
        ) as chosen,
        _log_ids(chosen.get_span_context()),
    ):
        yield chosen


class _Unrecorded:
    """A span no SDK records. The API would hand back the parent's span, or none; this one
    has ids of its own: the parent's trace (or a new one) and a span id, two random numbers.
    Made current and bound to the log lines like a recorded one, at a few microseconds: the
    services run this way unless `OTEL_*` asks for more (the bench's (t) measures it)."""

    __slots__ = ("_log", "_token", "span")

    def __init__(self, parent: Context | None) -> None:
        above = span_context_of(parent) if parent is not None else current_span_context()
        self.span = NonRecordingSpan(
            SpanContext(
                trace_id=above.trace_id if above.is_valid else _ids.getrandbits(128) or 1,
                span_id=_ids.getrandbits(64) or 1,
                is_remote=False,
                trace_flags=above.trace_flags if above.is_valid else TraceFlags(0),
                trace_state=above.trace_state if above.is_valid else None,
            )
        )

    def __enter__(self) -> Span:
        self._token = otel_context.attach(trace.set_span_in_context(self.span))
        self._log = _log_ids(self.span.get_span_context())
        self._log.__enter__()
        return self.span

    def __exit__(self, *exc_info: object) -> None:
        self._log.__exit__(*exc_info)
        otel_context.detach(self._token)


def _log_ids(ids: SpanContext) -> log_context.bound:
    return log_context.bound(
        trace_id=format(ids.trace_id, "032x"), span_id=format(ids.span_id, "016x")
    )


def current_span_context() -> SpanContext:
    return trace.get_current_span().get_span_context()


def messaging_attributes(
    operation: str, destination: str, *, message_id: str | None = None, count: int | None = None
) -> dict[str, Any]:
    """OpenTelemetry's messaging attributes for an operation on an SQS queue or SNS topic."""
    attributes: dict[str, Any] = {
        "messaging.system": MESSAGING_SYSTEM,
        "messaging.operation.type": operation,
        "messaging.destination.name": destination,
    }
    if message_id is not None:
        attributes["messaging.message.id"] = message_id
    if count is not None:
        attributes["messaging.batch.message_count"] = count
    return attributes
