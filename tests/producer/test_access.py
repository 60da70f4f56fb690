"""API keys, browser origins and the rate limit, as a client meets them over HTTP and the feed."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from producer.main import create_app
from shared.settings import Settings
from shared.topology.queues import QueuePair

ORDER = {"type": "order.created", "payload": {"order_id": "A-1"}}
KEY = "k3y-Alpha.7"
OLD_KEY = "old-key-still-valid"


def with_producer(settings: Settings, **producer: Any) -> Settings:
    return settings.model_copy(update={"producer": settings.producer.model_copy(update=producer)})


def keyed(settings: Settings, **producer: Any) -> Settings:
    hashed = "sha256:" + hashlib.sha256(OLD_KEY.encode()).hexdigest()
    return with_producer(
        Settings(
            _env_file=None, sqs=settings.sqs.model_dump(), producer={"api_keys": f"{KEY},{hashed}"}
        ),
        **producer,
    )


@pytest.fixture
def guarded(settings: Settings, queues: QueuePair) -> Iterator[TestClient]:
    with TestClient(create_app(keyed(settings))) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_without_a_key_every_data_route_is_401_with_a_json_reason(guarded: TestClient) -> None:
    answers = [
        guarded.post("/messages", json=ORDER),
        guarded.post("/messages/batch", json={"messages": [ORDER]}),
        guarded.get("/messages/00000000-0000-0000-0000-000000000000"),
        guarded.get("/topics"),
        guarded.post("/topics/orders/messages", json=ORDER),
    ]
    for answer in answers:
        assert answer.status_code == 401, answer.request.url
        assert "API key" in answer.json()["detail"]
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_a_wrong_key_is_401_and_nothing_is_sent(guarded: TestClient, stored: Any) -> None:
    answer = guarded.post("/messages", json=ORDER, headers=bearer(KEY + "x"))
    assert answer.status_code == 401
    assert answer.json() == {"detail": "the API key is not valid"}
    assert stored.receive(max_messages=10, wait_time_seconds=0) == []


def test_a_valid_key_by_bearer_or_x_api_key_is_served(guarded: TestClient) -> None:
    assert guarded.post("/messages", json=ORDER, headers=bearer(KEY)).status_code == 202
    assert guarded.post("/messages", json=ORDER, headers={"X-API-Key": KEY}).status_code == 202


def test_a_key_configured_by_its_sha256_is_accepted_beside_the_new_one(
    guarded: TestClient,
) -> None:
    """Rotation: the old key (given only as a digest) and the new one work at once."""
    assert guarded.post("/messages", json=ORDER, headers=bearer(OLD_KEY)).status_code == 202
    assert guarded.post("/messages", json=ORDER, headers=bearer(KEY)).status_code == 202
    digest_itself = hashlib.sha256(OLD_KEY.encode()).hexdigest()
    assert guarded.post("/messages", json=ORDER, headers=bearer(digest_itself)).status_code == 401


def test_probes_metrics_and_the_page_need_no_key(guarded: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/", "/static/app.js"):
        assert guarded.get(path).status_code == 200, path


def test_the_admin_routes_take_their_token_not_an_api_key(guarded: TestClient) -> None:
    assert guarded.get("/admin/dlq", headers=bearer(KEY)).status_code == 403  # no admin token


def test_the_schema_declares_the_keys_and_their_401(guarded: TestClient) -> None:
    schema = guarded.get("/openapi.json").json()
    assert {"ApiKeyBearer", "APIKeyHeader"} <= set(schema["components"]["securitySchemes"])
    post = schema["paths"]["/messages"]["post"]
    assert "401" in post["responses"]
    assert {"ApiKeyBearer": []} in post["security"]
    assert "security" not in schema["paths"]["/healthz"]["get"]


def test_an_open_producer_declares_no_key(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "security" not in schema["paths"]["/messages"]["post"]
    assert client.post("/messages", json=ORDER).status_code == 202


def test_an_open_producer_says_so_at_start(
    settings: Settings, queues: QueuePair, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(settings)):
        pass
    assert [r.message for r in caplog.records if "PRODUCER_API_KEYS" in r.message] == [
        "PRODUCER_API_KEYS is unset: the API is open to anyone who can reach it"
    ]


def test_a_malformed_digest_stops_the_producer_at_start() -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        Settings(_env_file=None, producer={"api_keys": "sha256:abc"})


# --- the live feed ---


def key_protocol(key: str) -> str:
    return "bearer." + base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def test_the_feed_takes_the_key_as_a_subprotocol_and_answers_sqs_feed(
    guarded: TestClient,
) -> None:
    with guarded.websocket_connect("/feed", subprotocols=["sqs-feed", key_protocol(KEY)]) as ws:
        assert ws.accepted_subprotocol == "sqs-feed"
        assert ws.receive_json()["kind"] == "hello"


def test_the_feed_refuses_a_missing_or_wrong_key_at_the_handshake(guarded: TestClient) -> None:
    for protocols in (["sqs-feed"], ["sqs-feed", key_protocol("nope")], ["sqs-feed", "bearer.%%"]):
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            guarded.websocket_connect("/feed", subprotocols=protocols),
        ):
            pass
        assert refused.value.status_code == 401
        assert "API key" in refused.value.json()["detail"]


def test_the_feed_refuses_a_foreign_origin_even_with_a_key(guarded: TestClient) -> None:
    headers = {"Origin": "http://evil.example", **bearer(KEY)}
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        guarded.websocket_connect("/feed", headers=headers),
    ):
        pass
    assert refused.value.status_code == 403


def test_the_feed_accepts_its_own_origin_and_a_client_with_no_origin(
    settings: Settings, queues: QueuePair
) -> None:
    with TestClient(create_app(settings)) as client:
        for headers in ({"Origin": "http://testserver"}, {}):
            with client.websocket_connect("/feed", headers=headers) as ws:
                assert ws.receive_json()["kind"] == "hello"
        with (
            pytest.raises(WebSocketDenialResponse),
            client.websocket_connect("/feed", headers={"Origin": "http://testserver.evil.example"}),
        ):
            pass


def test_an_allowed_origin_gets_cors_and_others_get_none(
    settings: Settings, queues: QueuePair
) -> None:
    app = create_app(with_producer(settings, allowed_origins=["https://ops.example"]))
    with TestClient(app) as client:
        preflight = {"Access-Control-Request-Method": "POST"}
        allowed = client.options(
            "/messages", headers={"Origin": "https://ops.example", **preflight}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://ops.example"
        other = client.options("/messages", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers
        with client.websocket_connect("/feed", headers={"Origin": "https://ops.example"}) as ws:
            assert ws.receive_json()["kind"] == "hello"


def test_no_cors_unless_configured(client: TestClient) -> None:
    answer = client.post("/messages", json=ORDER, headers={"Origin": "http://testserver"})
    assert answer.status_code == 202
    assert "access-control-allow-origin" not in answer.headers
    assert (
        client.post("/messages", json=ORDER, headers={"Origin": "https://evil.example"}).status_code
        == 403
    )


# --- the rate limit ---


def test_over_the_rate_a_key_gets_429_with_retry_after(
    settings: Settings, queues: QueuePair
) -> None:
    with TestClient(create_app(keyed(settings, rate_limit="1/min", rate_burst=2))) as client:
        first = [client.get("/topics", headers=bearer(KEY)).status_code for _ in range(2)]
        refused = client.get("/topics", headers=bearer(KEY))
        other_key = client.get("/topics", headers=bearer(OLD_KEY))
    assert first == [200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "rate limit" in refused.json()["detail"]
    assert other_key.status_code == 200  # each key its own bucket


def test_an_open_producer_limits_each_client_address(settings: Settings, queues: QueuePair) -> None:
    with TestClient(create_app(with_producer(settings, rate_limit="1/min"))) as client:
        assert client.get("/topics").status_code == 200
        assert client.get("/topics").status_code == 429
        assert client.get("/healthz").status_code == 200  # probes are never limited
        schema = client.get("/openapi.json").json()
    assert "429" in schema["paths"]["/messages"]["post"]["responses"]


def test_a_bad_rate_stops_the_producer_at_start() -> None:
    with pytest.raises(ValueError, match="200/s"):
        Settings(_env_file=None, producer={"rate_limit": "fast"})


@pytest.mark.parametrize("api", ["open", "keyed"])
def test_a_message_is_admitted_and_routed_without_a_hop_to_the_thread_pool(
    settings: Settings, queues: QueuePair, monkeypatch: pytest.MonkeyPatch, api: str
) -> None:
    """FastAPI runs a plain `def` dependency on its thread pool: a thread hop, and one back,
    for each, on every request."""
    from starlette.concurrency import run_in_threadpool as real

    hops: list[str] = []

    async def counted(call: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(call, "__name__", repr(call)))
        return await real(call, *args, **kwargs)

    monkeypatch.setattr("fastapi.dependencies.utils.run_in_threadpool", counted)
    chosen = keyed(settings, rate_limit="100/s") if api == "keyed" else settings
    with TestClient(create_app(chosen)) as client:
        headers = bearer(KEY) if api == "keyed" else {}
        assert client.post("/messages", json=ORDER, headers=headers).status_code == 202
        many = {"messages": [ORDER, ORDER]}
        assert client.post("/messages/batch", json=many, headers=headers).status_code == 202
    assert hops == []
