"""(d) the HTTP ceiling and (f) the HTTP floor: (c)'s POST load, without SQS.

(d) is the real producer whose SQS sends are no-ops; (f) a bare route that only validates the
body. Each server's own CPU per request is measured with its throughput.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bench.cpu import cpu_seconds
from bench.load import post_load
from bench.results import Measurement
from scripts.processes import HOST, free_port, start, wait_http_ok

STARTUP_SECONDS = 60.0


def measure_ceiling(
    base_env: Mapping[str, str], log_dir: Path, *, messages: int, clients: int, timeout: float
) -> Measurement:
    """Throughput from the first POST to the last answer; latency is each POST's round trip."""
    return _measure_server(
        "d",
        "HTTP ceiling: same load, producer with no-op SQS",
        "bench.noop_producer",
        base_env,
        log_dir,
        messages=messages,
        clients=clients,
        timeout=timeout,
    )


def measure_floor(
    base_env: Mapping[str, str], log_dir: Path, *, messages: int, clients: int, timeout: float
) -> Measurement:
    """The bare route's CPU per request, under the same load as (c)'s producer."""
    return _measure_server(
        "f",
        "HTTP floor: same load, a bare route validating the body",
        "bench.bare_route",
        base_env,
        log_dir,
        messages=messages,
        clients=clients,
        timeout=timeout,
    )


def _measure_server(
    key: str,
    label: str,
    module: str,
    base_env: Mapping[str, str],
    log_dir: Path,
    *,
    messages: int,
    clients: int,
    timeout: float,
) -> Measurement:
    port = free_port()
    env = {**base_env, "PRODUCER_HOST": HOST, "PRODUCER_PORT": str(port)}
    url = f"http://{HOST}:{port}"
    child = start(module.rsplit(".", 1)[-1].replace("_", "-"), ["-m", module], env, log_dir)
    try:
        wait_http_ok(f"{url}/readyz", child, STARTUP_SECONDS)
        before = cpu_seconds(child.process.pid)
        load = post_load(url, key, messages, clients, timeout=timeout)
        cpu = cpu_seconds(child.process.pid) - before
    finally:
        child.stop()
    return Measurement(
        key=key,
        label=label,
        messages=load.accepted,
        seconds=load.last_answer - load.first_post,
        requests=0,
        latencies=load.latencies,
        errors=messages - load.accepted,
        process_cpu={"server": cpu},
    )
