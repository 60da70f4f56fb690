"""(d) the HTTP ceiling: the same POST load against a producer whose SQS sends are no-ops."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bench.load import post_load
from bench.results import Measurement
from scripts.processes import HOST, free_port, start, wait_http_ok

STARTUP_SECONDS = 60.0


def measure_ceiling(
    base_env: Mapping[str, str], log_dir: Path, *, messages: int, clients: int, timeout: float
) -> Measurement:
    """Throughput from the first POST to the last answer; latency is each POST's round trip."""
    port = free_port()
    env = {**base_env, "PRODUCER_HOST": HOST, "PRODUCER_PORT": str(port)}
    url = f"http://{HOST}:{port}"
    child = start("noop-producer", ["-m", "bench.noop_producer"], env, log_dir)
    try:
        wait_http_ok(f"{url}/readyz", child, STARTUP_SECONDS)
        load = post_load(url, "ceiling", messages, clients, timeout=timeout)
    finally:
        child.stop()
    return Measurement(
        key="d",
        label="HTTP ceiling: same load, producer with no-op SQS",
        messages=load.accepted,
        seconds=load.last_answer - load.first_post,
        requests=0,
        latencies=load.latencies,
        errors=messages - load.accepted,
    )
