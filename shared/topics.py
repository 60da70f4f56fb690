"""Topics and their subscriptions, as declared in the TOML file named by `TOPICS_FILE`.

```toml
[topics.orders]
[[topics.orders.subscriptions]]
queue = "billing"
filter_policy = { type = ["order.created", "order.paid"] }
```

The producer publishes to these topics and bootstrap creates them; both read the file
through `load_topics`, so a file one of them accepts is a file the other accepts. What the
file can get wrong is caught here and named by topic and queue; what only SNS can judge
(the operators inside a filter policy) is left to SNS, and bootstrap names it the same way.
"""

from __future__ import annotations

import json
import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

if TYPE_CHECKING:
    from shared.settings import Settings

FIFO_SUFFIX = ".fifo"
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_TOPIC_NAME = 256
MAX_QUEUE_NAME = 76
"""SQS allows 80 characters; the dead-letter queue's name adds `-dlq` to the queue's."""


class TopicsConfigError(ValueError):
    """The topics file is missing or wrong, or SNS refused what it declares."""


class FilterScope(StrEnum):
    """What a filter policy looks at: the message attributes or the JSON body."""

    MESSAGE_ATTRIBUTES = "MessageAttributes"
    MESSAGE_BODY = "MessageBody"


def _check_name(name: str, kind: str, limit: int) -> str:
    base = name.removesuffix(FIFO_SUFFIX)
    if not _NAME.match(base) or len(name) > limit:
        raise ValueError(
            f"{kind} names have at most {limit} letters, digits, hyphens and underscores,"
            f" ending in {FIFO_SUFFIX} for FIFO"
        )
    return name


def dead_letter_name(queue: str) -> str:
    """`orders` → `orders-dlq`; `orders.fifo` → `orders-dlq.fifo` (a FIFO queue's DLQ is FIFO)."""
    if queue.endswith(FIFO_SUFFIX):
        return queue.removesuffix(FIFO_SUFFIX) + "-dlq" + FIFO_SUFFIX
    return queue + "-dlq"


def _check_policy(policy: object, scope: FilterScope, path: str = "filter_policy") -> None:
    """Every value a list of match conditions or, in the body scope only, a nested object."""
    if not isinstance(policy, dict) or not policy:
        raise ValueError(f"{path} must be a non-empty table (a JSON object)")
    for key, value in policy.items():
        if isinstance(value, dict) and scope is FilterScope.MESSAGE_BODY:
            _check_policy(value, scope, f"{path}.{key}")
        elif isinstance(value, dict):
            raise ValueError(
                f"{path}.{key}: nested objects need filter_scope = '{FilterScope.MESSAGE_BODY}'"
            )
        elif not isinstance(value, list):
            raise ValueError(f"{path}.{key} must be a list of conditions, got {value!r}")


def _not_json(value: object) -> NoReturn:
    raise ValueError(f"filter_policy: {value!r} is not a JSON value")


class Subscription(BaseModel):
    """One queue subscribed to a topic, receiving what its filter policy matches (or all)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    queue: str
    filter_policy: str | None = None
    """Canonical JSON, so the declaration stays immutable and compares with what SNS holds."""
    filter_scope: FilterScope = FilterScope.MESSAGE_ATTRIBUTES

    @field_validator("queue")
    @classmethod
    def _queue_name(cls, value: str) -> str:
        return _check_name(value, "queue", MAX_QUEUE_NAME)

    @model_validator(mode="before")
    @classmethod
    def _policy_as_json(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "filter_policy" not in data:
            return data
        policy = data["filter_policy"]
        given = data.get("filter_scope", FilterScope.MESSAGE_ATTRIBUTES)
        if given not in set(FilterScope):
            choices = " or ".join(repr(str(scope)) for scope in FilterScope)
            raise ValueError(f"filter_scope must be {choices}, got {given!r}")
        _check_policy(policy, FilterScope(given))
        canonical = json.dumps(policy, sort_keys=True, separators=(",", ":"), default=_not_json)
        return {**data, "filter_policy": canonical}

    @property
    def fifo(self) -> bool:
        return self.queue.endswith(FIFO_SUFFIX)

    def policy(self) -> dict[str, Any] | None:
        """The filter policy as a fresh dict, or None when the queue receives everything."""
        return json.loads(self.filter_policy) if self.filter_policy else None


class Topic(BaseModel):
    """One SNS topic and the queues subscribed to it; `.fifo` names make a FIFO topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    content_based_deduplication: bool = False
    subscriptions: tuple[Subscription, ...] = ()

    @field_validator("name")
    @classmethod
    def _topic_name(cls, value: str) -> str:
        return _check_name(value, "topic", MAX_TOPIC_NAME)

    @property
    def fifo(self) -> bool:
        return self.name.endswith(FIFO_SUFFIX)

    @model_validator(mode="after")
    def _consistent(self) -> Topic:
        if self.content_based_deduplication and not self.fifo:
            raise ValueError("content_based_deduplication applies only to FIFO topics (.fifo)")
        queues = [s.queue for s in self.subscriptions]
        twice = sorted({q for q in queues if queues.count(q) > 1})
        if twice:
            raise ValueError(f"queue {twice[0]!r} is subscribed twice")
        for subscription in self.subscriptions:
            if subscription.fifo != self.fifo:
                raise ValueError(_fifo_mismatch(subscription.queue, self.fifo))
        return self


def _fifo_mismatch(queue: str, fifo_topic: bool) -> str:
    if fifo_topic:
        return f"queue {queue!r}: a FIFO topic delivers only to FIFO queues (names ending .fifo)"
    return f"queue {queue!r}: a FIFO queue cannot subscribe to a standard topic"


class TopicsConfig(BaseModel):
    """Every declared topic; empty when no file is configured."""

    model_config = ConfigDict(frozen=True)

    source: Path | None = None
    topics: tuple[Topic, ...] = ()

    def get(self, name: str) -> Topic | None:
        return next((topic for topic in self.topics if topic.name == name), None)

    @property
    def names(self) -> list[str]:
        return [topic.name for topic in self.topics]

    def feeds(self) -> dict[str, list[Topic]]:
        """Each subscribed queue with the topics that deliver to it, in file order."""
        queues: dict[str, list[Topic]] = {}
        for topic in self.topics:
            for subscription in topic.subscriptions:
                queues.setdefault(subscription.queue, []).append(topic)
        return queues


def load_topics_file(path: Path) -> TopicsConfig:
    """Read and check a topics file; any mistake is a `TopicsConfigError` naming its place."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TopicsConfigError(f"topics file {path}: cannot read it: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TopicsConfigError(f"topics file {path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - {"topics"})
    if unknown:
        raise TopicsConfigError(
            f"topics file {path}: unknown key {unknown[0]!r}; declare topics as [topics.<name>]"
        )
    declared = raw.get("topics", {})
    if not isinstance(declared, dict):
        raise TopicsConfigError(f"topics file {path}: 'topics' must be a table of topics")
    topics = tuple(_topic(path, name, body) for name, body in declared.items())
    config = TopicsConfig(source=path, topics=topics)
    _check_dead_letter_names(config)
    return config


def load_topics(settings: Settings) -> TopicsConfig:
    """The topics `TOPICS_FILE` declares, checked against the queues the settings name."""
    path = settings.topics.file
    if path is None:
        return TopicsConfig()
    config = load_topics_file(path)
    reserved = {
        settings.sqs.dlq_name: "SQS_DLQ_NAME, the dead-letter queue",
        settings.sqs.events_queue_name: "SQS_EVENTS_QUEUE_NAME, the status events queue",
    }
    for queue, topics in config.feeds().items():
        if queue in reserved:
            raise TopicsConfigError(
                f"topics file {path}: topic {topics[0].name!r}, queue {queue!r}:"
                f" that is {reserved[queue]}; subscribe a queue of its own"
            )
    return config


def _topic(path: Path, name: str, body: object) -> Topic:
    if not isinstance(body, dict):
        raise TopicsConfigError(f"topics file {path}: topic {name!r} must be a table")
    try:
        return Topic.model_validate({**body, "name": name})
    except ValidationError as exc:
        problems = "; ".join(_describe(error, body) for error in exc.errors())
        raise TopicsConfigError(f"topics file {path}: topic {name!r}: {problems}") from None


def _describe(error: ErrorDetails, body: dict[str, Any]) -> str:
    """One validation error, placed by queue name rather than by list index."""
    loc = list(error["loc"])
    place = ""
    if len(loc) >= 2 and loc[0] == "subscriptions" and isinstance(loc[1], int):
        queue = _queue_at(body, loc[1])
        place = f"queue {queue!r}: " if queue else f"subscription {loc[1] + 1}: "
        loc = loc[2:]
    field = ".".join(str(part) for part in loc)
    cause = error.get("ctx", {}).get("error")
    message = str(cause) if isinstance(cause, ValueError) else error["msg"]
    return f"{place}{field + ': ' if field else ''}{message}"


def _queue_at(body: dict[str, Any], index: int) -> str | None:
    subscriptions = body.get("subscriptions")
    if isinstance(subscriptions, list) and index < len(subscriptions):
        entry = subscriptions[index]
        if isinstance(entry, dict) and isinstance(entry.get("queue"), str):
            return str(entry["queue"])
    return None


def _check_dead_letter_names(config: TopicsConfig) -> None:
    """Bootstrap gives each subscribed queue a `-dlq` queue; none may be a subscriber too."""
    feeds = config.feeds()
    for queue, topics in feeds.items():
        if dead_letter_name(queue) in feeds:
            raise TopicsConfigError(
                f"topics file {config.source}: topic {topics[0].name!r}, queue"
                f" {dead_letter_name(queue)!r} is the dead-letter queue of {queue!r}"
            )
