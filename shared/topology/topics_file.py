"""Reading the topics file named by `TOPICS_FILE`: TOML in, checked declarations out.

```toml
[topics.orders]
[[topics.orders.subscriptions]]
queue = "billing"
filter_policy = { type = ["order.created", "order.paid"] }
```

The producer publishes to these topics and bootstrap creates them; both read the file
through `load_topics`, so a file one of them accepts is a file the other accepts. Every
mistake is a `TopicsConfigError` naming the file, the topic and the queue.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from shared.messages.dead_letter import dead_letter_name
from shared.topology.topics import Topic, TopicsConfig, TopicsConfigError

if TYPE_CHECKING:
    from shared.settings import Settings


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
    if settings.sqs.events_topic in config.names:
        raise TopicsConfigError(
            f"topics file {path}: topic {settings.sqs.events_topic!r} is SQS_EVENTS_TOPIC_NAME,"
            " the status events topic; declare a topic of its own"
        )
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
