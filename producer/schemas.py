"""What the producer's HTTP API accepts and answers."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from shared.aws.limits import MAX_DELAY_SECONDS
from shared.messages.envelope import CorrelationId, Envelope, MessageAttributes, MessageType
from shared.topology.topics import Topic

FifoId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
"""A MessageGroupId or MessageDeduplicationId, by AWS's rules: up to 128 printable ASCII
characters (letters, digits, punctuation), no spaces."""


def _json_integer(value: object) -> object:
    """A JSON integer, which JSON Schema says `10.0` also is; never a string or a boolean."""
    if isinstance(value, bool | str):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer), Field(strict=False)]
"""An integer as JSON Schema means it: `10` or `10.0`, never `"10"` or `true`."""


class MessageIn(BaseModel):
    """A message to enqueue. Unknown fields are refused so a typo never goes unnoticed."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # "10" and true are not the integer 10: the schema says integer
        json_schema_extra={
            "examples": [
                {
                    "type": "order.created",
                    "payload": {"order_id": "A-1001", "amount": 42.5},
                    "attributes": {"tenant": "acme"},
                }
            ]
        },
    )

    type: MessageType = Field(description="Routing key the consumer dispatches on.")
    payload: dict[str, Any] = Field(description="Any JSON object.")
    attributes: MessageAttributes = Field(
        default_factory=dict, description="String attributes, sent as SQS message attributes."
    )
    delay_seconds: JsonInt = Field(default=0, ge=0, le=MAX_DELAY_SECONDS)
    correlation_id: CorrelationId | None = Field(
        default=None,
        description="Ties related messages together; taken from X-Correlation-ID if absent.",
    )
    group_id: FifoId | None = Field(
        default=None,
        description="FIFO destinations only, and required there: messages of one group keep "
        "their order.",
    )
    deduplication_id: FifoId | None = Field(
        default=None,
        description="FIFO destinations only: a repeat within five minutes is dropped. "
        "Defaults to the content (content-based deduplication) or the envelope id.",
    )

    def to_envelope(self, correlation_id: str | None = None) -> Envelope:
        fields: dict[str, Any] = {
            "type": self.type,
            "payload": self.payload,
            "attributes": self.attributes,
        }
        chosen = self.correlation_id or correlation_id
        if chosen:
            fields["correlation_id"] = chosen
        return Envelope(**fields)


class MessageAccepted(BaseModel):
    """The message is stored in SQS: `id` is ours, `message_id` is the one SQS assigned."""

    id: str
    message_id: str
    correlation_id: str


class TopicMessageAccepted(BaseModel):
    """SNS has the message and delivers it to every subscribed queue whose filter matches."""

    id: str
    message_id: str = Field(description="The MessageId SNS assigned.")
    topic: str
    correlation_id: str


class SubscriptionInfo(BaseModel):
    queue: str
    filter_policy: dict[str, Any] | None = Field(description="None: the queue gets everything.")
    filter_scope: str


class TopicInfo(BaseModel):
    name: str
    fifo: bool
    content_based_deduplication: bool
    subscriptions: list[SubscriptionInfo]

    @classmethod
    def of(cls, topic: Topic) -> TopicInfo:
        return cls(
            name=topic.name,
            fifo=topic.fifo,
            content_based_deduplication=topic.content_based_deduplication,
            subscriptions=[
                SubscriptionInfo(
                    queue=s.queue, filter_policy=s.policy(), filter_scope=s.filter_scope.value
                )
                for s in topic.subscriptions
            ],
        )


class TopicList(BaseModel):
    """The topics the producer publishes to, as the topics file declares them."""

    topics: list[TopicInfo]


MAX_BATCH_SCHEMA = 10_000
"""The most messages any producer takes in one batch (PRODUCER_MAX_BATCH_MESSAGES may be
lower)."""


MORE_ERRORS = "more_errors"
"""The error type that stands for the problems validation stopped looking for."""
FEW_ERRORS = 10
"""Problems worth finding in a refused batch; the rest are only counted (see errors.py)."""


def _at_most_batch(value: object) -> object:
    """Count before validating each message, so a huge list costs one error, not millions."""
    if isinstance(value, list) and len(value) > MAX_BATCH_SCHEMA:
        raise ValueError(f"at most {MAX_BATCH_SCHEMA} messages, got {len(value)}")
    return value


def _first_errors(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Refuse a bad batch with its first problems and a count, not one error per problem.

    Turning pydantic's errors into the answer costs far more than finding them (90,000
    errors: 75 ms to validate, 360 ms to list), so when there are many, only a prefix of
    the batch long enough to hold the first few is validated again and listed.
    """
    try:
        return handler(value)
    except ValidationError as exc:
        total = exc.error_count()
        if total <= FEW_ERRORS or not isinstance(value, list):
            raise
    length = 1
    while True:
        try:
            handler(value[:length])
        except ValidationError as exc:
            if exc.error_count() >= FEW_ERRORS or length >= len(value):
                prefix = exc
                break
        length *= 2
    details: list[InitErrorDetails] = [
        {
            "type": PydanticCustomError(e["type"], _literal(e["msg"])),
            "loc": e["loc"],
            "input": None,
        }
        for e in prefix.errors(include_url=False, include_input=False)
    ]
    more = PydanticCustomError(MORE_ERRORS, "{more} more problems", {"more": total - len(details)})
    details.append({"type": more, "loc": (), "input": None})
    raise ValidationError.from_exception_data("messages", details)


def _literal(text: str) -> str:
    """A message as a custom error's template, so braces in it are not placeholders."""
    return text.replace("{", "{{").replace("}", "}}")


class BatchIn(BaseModel):
    """Several messages in one request; each is validated and answered on its own."""

    model_config = ConfigDict(extra="forbid", strict=True)

    messages: Annotated[
        list[MessageIn], BeforeValidator(_at_most_batch), WrapValidator(_first_errors)
    ] = Field(min_length=1, max_length=MAX_BATCH_SCHEMA)


class BatchItem(BaseModel):
    """One message's fate: `status` is 202 when stored, else the status it would have had alone."""

    index: int
    status: int
    id: str
    message_id: str | None = None
    detail: str | None = None


class BatchAccepted(BaseModel):
    accepted: int
    failed: int
    results: list[BatchItem]


class Problem(BaseModel):
    """Every error answer: `detail` says what is wrong in words a client can act on."""

    detail: str


class ValidationProblem(BaseModel):
    """A 422: `detail` names each offending field, as FastAPI does; `message` sums it up.

    At most the first few errors are listed; `more` counts the rest.
    """

    message: str
    detail: list[dict[str, Any]]
    more: int = Field(default=0, description="Errors found beyond those listed.")


class Health(BaseModel):
    status: str
    queue: str | None = None
    detail: str | None = None
