"""Input an attacker or a careless client sends: each gets a small 4xx, and nothing is sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from producer.errors import MAX_ANSWER_BYTES
from shared.aws import SqsQueue
from shared.messages.envelope import MAX_USER_ATTRIBUTES
from shared.messages.json_text import MAX_DEPTH

JSON = {"content-type": "application/json"}


def nested(depth: int) -> str:
    """A /messages body nested `depth` levels in all, its own object counted."""
    inner = depth - 1  # the body's own object holds the first of them, the payload
    return '{"type":"t","payload":' + '{"a":' * inner + "1" + "}" * inner + "}"


def post(client: TestClient, body: str | bytes, path: str = "/messages", **headers: str) -> Any:
    return client.post(path, content=body, headers={**JSON, **headers})


def nothing_stored(queue: SqsQueue) -> bool:
    return queue.receive(max_messages=10, wait_time_seconds=0) == []


ROUTES = ["/messages", "/messages/batch", "/topics/orders/messages"]


def as_route(path: str, message: str) -> str:
    return '{"messages":[' + message + "]}" if path.endswith("batch") else message


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    ("body", "why"),
    [
        (nested(300), "nested deeper than"),
        ('{"type":"t","payload":{"s":"\\ud800"}}', "surrogate"),
        ('{"type":"t","payload":{"n":NaN}}', "NaN"),
        ('{"type":"t","payload":{"n":-Infinity}}', "NaN or Infinity"),
        ('{"type":"t","payload":{"n":1e400}}', "infinity"),
        ('{"type":"t","payload":{"s":"\\uffff"}}', "U+FFFF"),
    ],
)
def test_json_the_queue_cannot_carry_is_a_400_on_every_route(
    client: TestClient, stored: SqsQueue, path: str, body: str, why: str
) -> None:
    answer = post(client, as_route(path, body), path)
    assert answer.status_code == 400
    assert why in answer.json()["detail"]
    assert len(answer.content) < 300
    assert nothing_stored(stored)


def test_a_payload_as_deep_as_the_limit_is_accepted_and_one_deeper_is_not(
    client: TestClient,
) -> None:
    assert post(client, nested(MAX_DEPTH)).status_code == 202
    assert post(client, nested(MAX_DEPTH + 1)).status_code == 400


def test_a_lone_surrogate_is_no_500_and_logs_no_traceback(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    answer = post(client, '{"type":"t","payload":{"s":"\\ud800"}}')
    assert answer.status_code == 400
    assert not [r for r in caplog.records if r.exc_info]


def test_a_valid_surrogate_pair_is_one_character_and_accepted(client: TestClient) -> None:
    assert post(client, '{"type":"t","payload":{"s":"\\ud83d\\ude00"}}').status_code == 202


@pytest.mark.parametrize(
    "attributes",
    [{"tenant": "a\u0000b"}, {"tenant": "bell\u0007"}, {"tenant": "\u001b[31mred"}],
)
def test_an_attribute_value_sqs_refuses_is_a_422_naming_it(
    client: TestClient, stored: SqsQueue, attributes: dict[str, str]
) -> None:
    answer = client.post("/messages", json={"type": "t", "payload": {}, "attributes": attributes})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "attributes", "tenant"]
    assert "SQS refuses it" in answer.json()["message"]
    assert nothing_stored(stored)


def test_tabs_and_newlines_in_attribute_values_are_carried(client: TestClient) -> None:
    answer = client.post(
        "/messages", json={"type": "t", "payload": {}, "attributes": {"a": "x\ty\n"}}
    )
    assert answer.status_code == 202


def test_100000_invalid_attribute_names_get_a_small_422_quickly(
    client: TestClient, stored: SqsQueue
) -> None:
    body = json.dumps(
        {"type": "t", "payload": {}, "attributes": {f"b {i}": "x" for i in range(100_000)}}
    )
    assert len(body) > 1_500_000
    answer = post(client, body)
    assert answer.status_code == 422
    assert len(answer.content) <= MAX_ANSWER_BYTES
    assert f"at most {MAX_USER_ATTRIBUTES} attributes" in answer.json()["message"]
    assert nothing_stored(stored)


def test_a_batch_of_10000_bad_messages_lists_the_first_problems_and_counts_the_rest(
    client: TestClient,
) -> None:
    bad = {"type": "", "payload": 1, "attributes": {"a b": 1}, "delay_seconds": "x", "x": 1}
    answer = post(client, json.dumps({"messages": [bad] * 10_000}), "/messages/batch")
    assert answer.status_code == 422
    problem = answer.json()
    assert len(answer.content) <= MAX_ANSWER_BYTES
    assert 1 <= len(problem["detail"]) <= 10
    assert problem["more"] > 50_000
    assert problem["detail"][0]["loc"][:3] == ["body", "messages", 0]
    assert problem["message"].endswith(f"and {problem['more']} more")


def test_a_422_never_echoes_the_input(client: TestClient) -> None:
    secret = "s3cr3t-" * 100
    answer = client.post("/messages", json={"type": secret, "payload": {}})
    assert answer.status_code == 422
    assert "s3cr3t" not in answer.text


@pytest.mark.parametrize("value", ["10", True, 1.5])
def test_delay_seconds_must_be_an_integer_not_coerced(client: TestClient, value: Any) -> None:
    answer = client.post("/messages", json={"type": "t", "payload": {}, "delay_seconds": value})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "delay_seconds"]


@pytest.mark.parametrize(
    "content_type", ["evil/x+json", "text/plain", "application/x-www-form-urlencoded", None]
)
def test_a_body_that_is_not_declared_json_is_415(
    client: TestClient, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    answer = client.post("/messages", content=b'{"type":"t","payload":{}}', headers=headers)
    assert answer.status_code == 415


def test_a_vendor_json_media_type_is_json(client: TestClient) -> None:
    answer = post(client, '{"type":"t","payload":{}}', **{"content-type": "application/vnd.a+json"})
    assert answer.status_code == 202


def test_a_10kb_correlation_id_header_is_a_422_not_a_500(client: TestClient) -> None:
    answer = client.post(
        "/messages", json={"type": "t", "payload": {}}, headers={"X-Correlation-ID": "x" * 10_000}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["header", "X-Correlation-ID"]


def test_a_correlation_id_with_a_control_character_is_refused(client: TestClient) -> None:
    answer = client.post(
        "/messages", json={"type": "t", "payload": {}, "correlation_id": "a\nforged log line"}
    )
    assert answer.status_code == 422


def test_get_on_the_batch_route_is_405_not_a_status_lookup(client: TestClient) -> None:
    answer = client.get("/messages/batch")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"


def test_the_status_route_takes_the_id_the_202_gave(client: TestClient) -> None:
    accepted = client.post("/messages", json={"type": "t", "payload": {}}).json()
    assert client.get(f"/messages/{accepted['id']}").json()["id"] == accepted["id"]


def test_the_schema_has_no_content_type_parameter_and_names_the_status_id(
    client: TestClient,
) -> None:
    schema = client.get("/openapi.json").json()
    for operations in schema["paths"].values():
        for operation in operations.values():
            names = [p["name"].lower() for p in operation.get("parameters", [])]
            assert "content-type" not in names
    assert "/messages/{id}" in schema["paths"]
    links = schema["paths"]["/messages"]["post"]["responses"]["202"]["links"]
    assert links["GetMessageStatus"]["parameters"] == {"id": "$response.body#/id"}


def test_the_attribute_schema_refuses_what_the_server_refuses(client: TestClient) -> None:
    import re

    schema = client.get("/openapi.json").json()["components"]["schemas"]["MessageIn"]
    names = re.compile(schema["properties"]["attributes"]["propertyNames"]["pattern"])
    for refused in ("aws.trace", "Amazon.x", "AWS.x", "type", "correlation_id", "a..b", ".a"):
        assert not names.search(refused), refused
        answer = client.post(
            "/messages", json={"type": "t", "payload": {}, "attributes": {refused: "v"}}
        )
        assert answer.status_code == 422, refused
    for allowed in ("tenant", "x.y", "type2", "my-type"):
        assert names.search(allowed), allowed


def test_the_dashboard_is_served_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert (
        client.post("/messages", json={"type": "t", "payload": {}}).headers[
            "x-content-type-options"
        ]
        == "nosniff"
    )
