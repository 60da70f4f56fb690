"""Configuration from environment variables (and an optional `.env` file).

Every group maps to a prefix: `SQS_QUEUE_NAME` is `settings.sqs.queue_name`,
`PRODUCER_PORT` is `settings.producer.port`. Settings are built when first asked for,
never at import, so tests and tools can shape the environment first.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    HttpUrl,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.aws.limits import MAX_BATCH_ENTRIES, is_fifo
from shared.token_bucket import Rate

MAX_EVENTS_TOPIC_NAME = 62
"""A replica's feed queue is named `<topic>-feed-` and 12 hex digits, within SQS's 80."""


def _blank_is_none(value: object) -> object:
    """An empty variable (`TOPICS_FILE=`) means unset, not an empty name or the current dir."""
    return None if isinstance(value, str) and not value.strip() else value


def _comma_separated(value: object) -> object:
    """`a, b,,c` as `["a", "b", "c"]`: how every list setting is written."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


BlankIsNone = BeforeValidator(_blank_is_none)
CommaSeparated = BeforeValidator(_comma_separated)


class AwsSettings(BaseModel):
    """Where credentials and region come from; unset values defer to boto3's own chain."""

    region: str | None = Field(
        default=None,
        description="Unset: boto3's chain (AWS_DEFAULT_REGION, profile), else us-east-1.",
    )
    profile: str | None = Field(
        default=None, description="Named profile from ~/.aws/config and ~/.aws/credentials."
    )


class SqsSettings(BaseModel):
    """The queue pair and how we talk to it."""

    endpoint_url: HttpUrl | None = Field(
        default=None,
        description="SQS endpoint (moto, localstack). Unset means real AWS.",
    )
    queue_name: str = Field(default="messages", min_length=1, max_length=80)
    dlq_name: str = Field(default="messages-dlq", min_length=1, max_length=80)
    events_queue_name: Annotated[str | None, BlankIsNone] = Field(
        default="messages-events",
        max_length=80,
        description="Where consumers publish status events for the producer; empty disables.",
    )
    events_topic_name: Annotated[str | None, BlankIsNone] = Field(
        default="messages-events",
        max_length=MAX_EVENTS_TOPIC_NAME,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="SNS topic consumers publish status events to: it delivers them to the "
        "events queue and to one feed queue per producer replica, so every replica's live "
        "feed sees every event. Empty: consumers send to the events queue itself. Used only "
        "while SQS_EVENTS_QUEUE_NAME is set.",
    )
    max_receive_count: int = Field(default=5, ge=1, le=1000)
    visibility_timeout: int = Field(default=30, ge=0, le=43_200)
    wait_time_seconds: int = Field(default=20, ge=0, le=20)
    batch_size: int = Field(default=MAX_BATCH_ENTRIES, ge=1, le=MAX_BATCH_ENTRIES)
    max_attempts: int = Field(
        default=3, ge=1, le=10, description="Attempts per SQS call, first one included."
    )
    events_secret: SecretStr | None = Field(
        default=None,
        description="Shared by producers and consumers: status-event bodies are signed with it "
        "(HMAC-SHA256) and unsigned or forged ones are dropped. Unset: events are not signed.",
    )
    connect_timeout: float = Field(default=2.0, gt=0)
    read_timeout: float = Field(
        default=10.0, gt=0, description="Added to wait_time_seconds for long polls."
    )
    large_payload_delete: bool = Field(
        default=True,
        description="The consumer deletes a stored body once its message is acknowledged; "
        "false for a bucket other readers share.",
    )

    @model_validator(mode="after")
    def _queues_differ(self) -> SqsSettings:
        names = [self.queue_name, self.dlq_name, self.events_queue_name]
        present = [name for name in names if name]
        if len(set(present)) != len(present):
            raise ValueError(
                "SQS_QUEUE_NAME, SQS_DLQ_NAME and SQS_EVENTS_QUEUE_NAME must name different queues"
            )
        if is_fifo(self.queue_name) != is_fifo(self.dlq_name):
            raise ValueError(
                "SQS_QUEUE_NAME and SQS_DLQ_NAME must both end in .fifo or neither:"
                " SQS moves a FIFO queue's dead letters only to a FIFO queue"
            )
        return self

    @property
    def events_topic(self) -> str | None:
        """The status events topic, when status events are on and fan out through one."""
        return self.events_topic_name if self.events_queue_name else None


class ProducerSettings(BaseModel):
    """The HTTP side of the producer."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65_535)
    retry_after_seconds: int = Field(
        default=2, ge=1, description="Retry-After sent with a 503 when SQS is unavailable."
    )
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="Requests declaring a larger Content-Length are refused before reading.",
    )
    max_body_bytes_in_flight: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Request body bytes the process holds at once, across all requests; a "
        "request past it is answered 503 before its body is read. At least max_body_bytes.",
    )
    batching: bool = Field(
        default=True, description="Coalesce concurrent POST /messages into SendMessageBatch calls."
    )
    batch_window_ms: float = Field(
        default=5.0, ge=0, le=1000, description="Longest a message waits for others to join it."
    )
    send_concurrency: int = Field(
        default=16, ge=1, le=256, description="SendMessageBatch calls in flight at once."
    )
    max_batch_messages: int = Field(
        default=100, ge=1, le=10_000, description="Most messages one POST /messages/batch takes."
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for the /admin endpoints; unset disables them.",
    )
    api_keys: Annotated[list[SecretStr], NoDecode, CommaSeparated] = Field(
        default_factory=list,
        description="Comma-separated API keys, each plain or `sha256:<hex>` of the key; "
        "empty: the API is open.",
    )
    allowed_origins: Annotated[list[str], NoDecode, CommaSeparated] = Field(
        default_factory=list,
        description="Browser origins allowed to use the API and the feed besides the "
        "producer's own (which is always allowed); `*` allows any.",
    )
    trusted_proxies: Annotated[list[str], NoDecode, CommaSeparated] = Field(
        default_factory=list,
        description="Addresses (or networks, `10.0.0.0/8`) of the proxies whose "
        "X-Forwarded-For and X-Forwarded-Proto are believed; empty: none are, and the client "
        "address is the connection's.",
    )
    rate_limit: Annotated[str | None, BlankIsNone] = Field(
        default=None,
        description="Requests per key (or client address when open), e.g. `200/s` or "
        "`1000/min`; unset: no limit.",
    )
    rate_burst: int | None = Field(
        default=None,
        ge=1,
        description="Requests allowed at once above the rate; unset: one second's worth.",
    )
    status_capacity: int = Field(
        default=10_000,
        ge=1,
        le=10_000_000,
        description="Messages whose status GET /messages/{id} remembers; least recent go first.",
    )
    status_store: Literal["memory", "dynamodb"] = Field(
        default="memory",
        description="Where GET /messages/{id} reads status: `memory` (this process only, "
        "lost at restart) or `dynamodb` (a table every replica shares, kept across restarts).",
    )
    status_table: str = Field(
        default="sqs-message-status",
        min_length=3,
        max_length=255,
        description="The DynamoDB table of status events, made by bootstrap.",
    )
    status_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="How long DynamoDB keeps a message's status after its last event.",
    )
    stats_interval_seconds: float = Field(
        default=2.0,
        ge=0.1,
        le=300,
        description="How often queue depths are read for the dashboard while a page is open.",
    )
    feed_recent_events: int = Field(
        default=200, ge=0, le=10_000, description="Recent events a newly opened page is sent."
    )
    feed_client_buffer: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Frames waiting for one WebSocket client before it is dropped as too slow.",
    )
    feed_max_clients: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="Live feed connections one producer process holds; beyond, a new one is "
        "refused with 503.",
    )
    feed_queue_heartbeat_seconds: float = Field(
        default=60.0,
        ge=0.1,
        le=3600,
        description="How often a replica marks its feed queue alive (a queue tag) and removes "
        "feed queues of replicas that stopped marking theirs.",
    )
    feed_queue_expiry_seconds: float = Field(
        default=600.0,
        ge=0.3,
        le=86_400,
        description="A feed queue whose mark is older than this belongs to a replica that died "
        "without removing it, and is removed by any other. At least 3 heartbeats.",
    )
    feed_max_clients_per_caller: int = Field(
        default=20,
        ge=1,
        le=100_000,
        description="Live feed connections one API key (or client address when the API is "
        "open) holds at once; beyond, a new one is refused with 429.",
    )

    @field_validator("rate_limit")
    @classmethod
    def _rate_parses(cls, value: str | None) -> str | None:
        if value is not None:
            Rate.parse(value)  # a bad rate stops the producer at start, not at first request
        return value

    @field_validator("api_keys")
    @classmethod
    def _keys_well_formed(cls, value: list[SecretStr]) -> list[SecretStr]:
        for key in value:
            text = key.get_secret_value()
            if text.startswith("sha256:") and not re.fullmatch(r"sha256:[0-9a-fA-F]{64}", text):
                raise ValueError("an API key given as sha256: needs 64 hex digits after it")
        return value

    @model_validator(mode="after")
    def _largest_body_fits_in_flight(self) -> ProducerSettings:
        if self.max_body_bytes_in_flight < self.max_body_bytes:
            raise ValueError(
                "PRODUCER_MAX_BODY_BYTES_IN_FLIGHT must be at least PRODUCER_MAX_BODY_BYTES, "
                "or the largest body allowed could never be read"
            )
        return self

    @model_validator(mode="after")
    def _expiry_outlasts_heartbeats(self) -> ProducerSettings:
        if self.feed_queue_expiry_seconds < 3 * self.feed_queue_heartbeat_seconds:
            raise ValueError(
                "PRODUCER_FEED_QUEUE_EXPIRY_SECONDS must be at least 3 heartbeats "
                "(PRODUCER_FEED_QUEUE_HEARTBEAT_SECONDS), or a live replica's queue could be "
                "taken for a dead one's"
            )
        return self


class ConsumerSettings(BaseModel):
    """The worker loop and its metrics endpoint."""

    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=0, le=65_535, description="/healthz and /metrics.")
    queues: Annotated[list[str], NoDecode, CommaSeparated] = Field(
        default_factory=list,
        description="Comma-separated queues to consume; empty means SQS_QUEUE_NAME.",
    )
    handlers: Annotated[list[str], NoDecode, CommaSeparated] = Field(
        default_factory=list,
        description="Comma-separated modules imported at start-up so their handlers register.",
    )
    stale_after_seconds: float = Field(
        default=60.0,
        gt=0,
        description="/healthz fails when no receive has completed for this long.",
    )
    error_backoff_max_seconds: float = Field(default=30.0, gt=0)
    concurrency: int = Field(default=10, ge=1, le=1000, description="Handlers running at once.")
    pollers: int = Field(default=1, ge=1, le=16, description="Threads receiving from SQS.")
    prefetch: int = Field(
        default=10,
        ge=0,
        le=100,
        description="Messages held beyond the free handler slots, so receives come back full.",
    )
    ack_window_ms: float = Field(
        default=20.0, ge=0, le=5000, description="Longest a delete waits for others to join it."
    )
    retry_base_seconds: float = Field(
        default=2.0, ge=0, description="First retry delay after a handler failure; doubles."
    )
    retry_max_seconds: float = Field(
        default=300.0, ge=0, le=43_200, description="Cap on the retry delay."
    )
    heartbeat_after: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="Fraction of the visibility timeout after which visibility is extended.",
    )
    handler_timeout_seconds: float = Field(
        default=900.0,
        gt=0,
        description="Longest a handler may hold a message; then it is abandoned and retried.",
    )
    shutdown_timeout_seconds: float = Field(
        default=20.0, ge=0, description="How long running handlers get to finish on SIGTERM."
    )
    idempotency_store: Literal["memory", "dynamodb"] = "memory"
    idempotency_table: str = Field(default="sqs-idempotency", min_length=3, max_length=255)
    idempotency_ttl_seconds: int = Field(
        default=3600, ge=1, description="How long a completed message id is remembered."
    )


class TopicSettings(BaseModel):
    """Publish/subscribe: SNS topics and the queues subscribed to them."""

    file: Annotated[Path | None, BlankIsNone] = Field(
        default=None,
        description="TOML file declaring topics and their subscriptions; unset or empty: none.",
    )


class Settings(BaseSettings):
    """All settings of both services, one environment."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
    )

    aws: AwsSettings = Field(default_factory=AwsSettings)
    sqs: SqsSettings = Field(default_factory=SqsSettings)
    producer: ProducerSettings = Field(default_factory=ProducerSettings)
    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`json`: one JSON object per line, with the ids of the message or request "
        "at hand; `text`: one readable line each.",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use."""
    return Settings()
