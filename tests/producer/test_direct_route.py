"""POST /messages and /messages/batch answered through a plan: FastAPI's answers, without its walk.

FastAPI's own handler is the judge: a dependency override (any) makes a direct route hand the
request to it, so each body hypothesis makes is answered both ways, by the same app, and the
answers must match.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import fastapi.routing
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producer.direct_route import DirectRoute, UnplannableRouteError
from producer.main import create_app
from shared.settings import Settings
from shared.topology.queues import QueuePair

JSON = {"content-type": "application/json"}

scalars = (
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(-1e3, 1e3) | st.text(max_size=4)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
texts = st.sampled_from(["order.created", "", "a b", "x" * 300, "t"]) | json_values
messages = st.fixed_dictionaries(
    {},
    optional={
        "type": texts,
        "payload": st.dictionaries(st.text(max_size=3), json_values, max_size=2) | json_values,
        "attributes": st.dictionaries(st.sampled_from(["tenant", "type", "", "a" * 300]), texts)
        | json_values,
        "delay_seconds": st.sampled_from([0, 5, -1, 901, "5", 2.5, True]),
        "correlation_id": texts,
        "group_id": texts,
        "deduplication_id": texts,
        "surprise": json_values,
    },
)
bodies = (
    st.just(b"")
    | st.just(b"null")
    | json_values.map(lambda value: json.dumps(value).encode())
    | messages.map(lambda value: json.dumps(value).encode())
    | st.lists(messages, max_size=3).map(lambda items: json.dumps({"messages": items}).encode())
)
correlation_ids = st.none() | st.sampled_from(["", "ok-1", "a b", "x" * 300, "tab\there"])


def _unused() -> None:
    """Overridden only to make direct routes hand requests to FastAPI's own handler."""


@pytest.fixture
def app(settings: Settings, queues: QueuePair) -> Iterator[tuple[FastAPI, TestClient]]:
    built = create_app(settings)
    with TestClient(built) as client:
        yield built, client


def answer_both_ways(
    app: FastAPI, client: TestClient, path: str, body: bytes, headers: dict[str, str]
) -> tuple[Any, Any]:
    direct = client.post(path, content=body, headers=headers)
    app.dependency_overrides[_unused] = _unused
    try:
        judged = client.post(path, content=body, headers=headers)
    finally:
        app.dependency_overrides.clear()
    return direct, judged


@pytest.mark.parametrize("path", ["/messages", "/messages/batch"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, correlation_id=correlation_ids)
def test_every_body_is_answered_as_fastapi_would_answer_it(
    app: tuple[FastAPI, TestClient], path: str, body: bytes, correlation_id: str | None
) -> None:
    built, client = app
    headers = JSON | ({"X-Correlation-ID": correlation_id} if correlation_id is not None else {})
    direct, judged = answer_both_ways(built, client, path, body, headers)
    assert direct.status_code == judged.status_code, (direct.text, judged.text)
    if direct.status_code in (202, 207):
        assert direct.json().keys() == judged.json().keys()
        assert direct.headers["content-type"] == judged.headers["content-type"]
        assert ("x-correlation-id" in direct.headers) == ("x-correlation-id" in judged.headers)
    else:
        assert direct.json() == judged.json()


def test_a_post_is_answered_without_fastapis_dependency_solving(
    app: tuple[FastAPI, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("dependencies solved per request")

    _, client = app
    monkeypatch.setattr(fastapi.routing, "solve_dependencies", refuse)
    one = client.post(
        "/messages", json={"type": "t", "payload": {}}, headers={"X-Correlation-ID": "c-1"}
    )
    assert one.status_code == 202
    assert one.headers["x-correlation-id"] == "c-1"
    assert one.json()["correlation_id"] == "c-1"
    batch = client.post("/messages/batch", json={"messages": [{"type": "t", "payload": {}}] * 2})
    assert batch.status_code == 202
    assert batch.json()["accepted"] == 2


def test_a_declaration_a_plan_cannot_cover_is_refused_when_the_route_is_built() -> None:
    router = APIRouter(route_class=DirectRoute)

    async def search(term: str) -> dict[str, str]:
        return {"term": term}

    with pytest.raises(UnplannableRouteError, match="query parameters"):
        router.add_api_route("/search", search, methods=["POST"])
