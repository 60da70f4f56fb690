"""The OpenAPI schema as this deployment serves it: exact for its queue and each declared topic.

What a message may carry depends on where it goes: a FIFO destination needs `group_id` and
takes no per-message delay, a standard one takes no FIFO fields, SNS has no delay at all.
One request model cannot say that, so the served schema gives the queue routes the variant
their queue takes and each declared topic a path of its own with its variant. A client (or
a fuzzer) that follows the schema is then never refused for where the message was going.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from shared.aws.limits import is_fifo
from shared.topology.topics import TopicsConfig

FIFO_FIELDS = ("group_id", "deduplication_id")
TOPIC_ROUTE = "/topics/{topic}/messages"
Schema = dict[str, Any]


def serve_exact_schema(app: FastAPI, queue_name: str, topics: TopicsConfig, max_batch: int) -> None:
    """Replace `app.openapi` with one that rewrites FastAPI's schema once, then caches it."""
    generate: Callable[[], Schema] = app.openapi

    def openapi() -> Schema:
        if app.openapi_schema is None:
            app.openapi_schema = exact(generate(), is_fifo(queue_name), topics, max_batch)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def exact(schema: Schema, queue_fifo: bool, topics: TopicsConfig, max_batch: int) -> Schema:
    schema = copy.deepcopy(schema)
    components = schema["components"]["schemas"]
    general = components["MessageIn"]
    queue_model = _add(components, general, fifo=queue_fifo, delays=not queue_fifo)
    batch = copy.deepcopy(components["BatchIn"])
    batch["properties"]["messages"]["items"] = {"$ref": f"#/components/schemas/{queue_model}"}
    batch["properties"]["messages"]["maxItems"] = max_batch  # PRODUCER_MAX_BATCH_MESSAGES
    components["QueueBatchIn"] = batch
    paths = schema["paths"]
    _use(paths["/messages"]["post"], queue_model, fifo=queue_fifo, delays=not queue_fifo)
    _use(paths["/messages/batch"]["post"], "QueueBatchIn", fifo=queue_fifo, delays=False)
    template = paths.pop(TOPIC_ROUTE, None)
    if template is not None:
        for topic in topics.topics:
            model = _add(components, general, fifo=topic.fifo, delays=False)
            operation = copy.deepcopy(template["post"])
            operation["operationId"] = f"publish_to_{_identifier(topic.name)}"
            operation["parameters"] = [
                p for p in operation.get("parameters", []) if p["name"] != "topic"
            ]
            operation["responses"].pop("404", None)
            operation["summary"] = f"Publish to {topic.name}"
            _use(operation, model, fifo=topic.fifo, delays=False)
            paths[f"/topics/{topic.name}/messages"] = {"post": operation}
    return schema


def _add(components: dict[str, Schema], general: Schema, *, fifo: bool, delays: bool) -> str:
    """The variant of the message model a destination takes; returns its component name."""
    name = ("Fifo" if fifo else "Standard") + ("MessageIn" if delays else "MessageInNoDelay")
    if name in components:
        return name
    variant = copy.deepcopy(general)
    properties = variant["properties"]
    if not delays:
        properties.pop("delay_seconds", None)
    if fifo:
        group = properties["group_id"]
        properties["group_id"] = {
            **next(s for s in group["anyOf"] if s.get("type") != "null"),
            "description": group.get("description", ""),
        }
        variant["required"] = [*variant.get("required", []), "group_id"]
    else:
        for field in FIFO_FIELDS:
            properties.pop(field, None)
    variant["title"] = name
    components[name] = variant
    return name


def _use(operation: Schema, model: str, *, fifo: bool, delays: bool) -> None:
    """Point the operation's body at `model`, keeping only the examples that fit it."""
    content = operation["requestBody"]["content"]["application/json"]
    content["schema"] = {"$ref": f"#/components/schemas/{model}"}
    examples = content.get("examples")
    if examples:
        content["examples"] = {
            key: example
            for key, example in examples.items()
            if _fits(example["value"], fifo=fifo, delays=delays)
        }


def _fits(value: dict[str, Any], *, fifo: bool, delays: bool) -> bool:
    if "delay_seconds" in value and not delays:
        return False
    return ("group_id" in value) == fifo


def _identifier(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)
