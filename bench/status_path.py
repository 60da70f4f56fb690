"""(s) the status path: what keeping every message's status shared in DynamoDB costs.

The system of (c) again (status events on, as there), with `PRODUCER_STATUS_STORE=dynamodb`:
each consumer publishes its status events packed to the events topic, which delivers them
to the events queue and the producer's feed queue; the producer reads them
and writes them, with its own `accepted` events, to the status table. Counted by the
producer itself: DynamoDB requests and status events written, per message handled.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.endpoint import fresh_queues
from bench.results import Config
from bench.system import System, measure_system, running_system, scrape
from shared.aws import build_client
from shared.topology.resources import ensure_table

SETTLE_SECONDS = 30.0
"""Longest to wait, after the last message was handled, for its last status events."""
EVENTS_PER_MESSAGE = 4
"""accepted, received, processing, done: what a message handled at once reports."""


@dataclass(frozen=True)
class StatusPath:
    messages: float
    dynamodb_requests: float
    events_written: float

    @property
    def requests_per_message(self) -> float:
        return self.dynamodb_requests / self.messages if self.messages else float("nan")

    @property
    def events_per_message(self) -> float:
        return self.events_written / self.messages if self.messages else float("nan")


def _written(system: System) -> float:
    return sum(scrape(system.producer_url, "producer_status_events_written_total").values())


def _dynamodb_requests(system: System) -> float:
    return sum(scrape(system.producer_url, service="dynamodb").values())


def measure_status_path(
    sqs_url: str, config: Config, env: Mapping[str, str], logs: Path
) -> StatusPath:
    with fresh_queues(sqs_url, "s", config.wait_seconds) as settings:
        table = f"{settings.sqs.queue_name}-status"
        ensure_table(build_client("dynamodb", settings), table, sort_key="event")
        overrides = {
            "PRODUCER_STATUS_STORE": "dynamodb",
            "PRODUCER_STATUS_TABLE": table,
        }
        with running_system(env, settings, logs, overrides) as system:
            requests_before, written_before = _dynamodb_requests(system), _written(system)
            handled = measure_system(
                system,
                messages=config.messages,
                clients=config.clients,
                cap=config.cap,
                timeout=config.timeout,
            ).messages
            deadline = time.monotonic() + SETTLE_SECONDS
            while time.monotonic() < deadline:
                if _written(system) - written_before >= EVENTS_PER_MESSAGE * handled:
                    break
                time.sleep(0.5)
            return StatusPath(
                handled,
                _dynamodb_requests(system) - requests_before,
                _written(system) - written_before,
            )
