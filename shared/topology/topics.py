"""The declared topics and their subscriptions: names, filter policies and FIFO rules checked.

What the topics file can get wrong is caught here and named by topic and queue; what only
SNS can judge (the operators inside a filter policy) is left to SNS.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from shared.aws.limits import FIFO_SUFFIX, is_fifo

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
        return is_fifo(self.queue)

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
        return is_fifo(self.name)

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
