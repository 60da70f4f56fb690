"""The floor (c) is judged against: the raw batched loop's own CPU per message plus a bare
route's CPU per request, both measured in the same run."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from bench.bare_route import create_app
from bench.baselines import measure_batched
from bench.endpoint import fresh_queues
from bench.load import message_body
from bench.report import MAX_CPU_OVER_FLOOR, render_text, verdicts
from bench.results import Measurement, TargetRun
from tests.bench.figures import CONFIG


def test_the_bare_route_takes_the_bench_body_and_refuses_what_the_producer_refuses() -> None:
    with TestClient(create_app()) as client:
        taken = client.post(
            "/messages",
            content=message_body("f", 1, 0.0),
            headers={"content-type": "application/json"},
        )
        refused = client.post("/messages", json={"type": "t", "payload": {}, "typo": 1})
    assert taken.status_code == 202, taken.text
    assert refused.status_code == 422  # the producer's own MessageIn: unknown fields refused


@pytest.mark.e2e
@pytest.mark.usefixtures("bench_environment")
def test_the_raw_loop_measures_its_own_cpu(moto_server: str) -> None:
    with fresh_queues(moto_server, "floor", wait_seconds=1) as settings:
        m = measure_batched(settings, messages=100, cap=50, timeout=60)
    assert m.messages == 100
    per_message = m.cpu_ms_per_message("loop")
    assert math.isfinite(per_message)
    assert per_message > 0


def measured(key: str, messages: int, **cpu: float) -> Measurement:
    return Measurement(key, key, messages, 1.0, 0.0, [0.01] * messages, process_cpu=cpu)


def run_with(system_seconds: float) -> TargetRun:
    run = TargetRun("moto +20 ms", 0.02, delayed=True)
    run.measurements["a"] = measured("a", 100)
    run.measurements["b"] = measured("b", 1000, loop=0.3)  # 0.3 ms per message
    run.measurements["f"] = measured("f", 1000, server=0.5)  # 0.5 ms per request
    run.measurements["c"] = measured(
        "c", 1000, producer=system_seconds * 0.6, consumer=system_seconds * 0.4
    )
    return run


def floor_verdict(run: TargetRun) -> str:
    (found,) = [v for v in verdicts([run], CONFIG) if "floor" in v.target]
    return f"{'met' if found.met else 'MISS'} {found.measured}"


def test_the_system_is_judged_against_the_floor_of_its_own_run() -> None:
    assert floor_verdict(run_with(1.2)) == "met 1.200 ms = 1.50x 0.800 ms"
    assert floor_verdict(run_with(1.3)) == "MISS 1.300 ms = 1.62x 0.800 ms"
    assert MAX_CPU_OVER_FLOOR == 1.5


def test_the_report_shows_each_process_cpu_and_the_floor() -> None:
    text = render_text([run_with(1.2)], CONFIG)
    cpu_table = text.split("CPU ms per message", 1)[1]
    row = next(line for line in cpu_table.splitlines() if line.startswith("moto +20 ms"))
    assert row.split()[3:] == ["0.300", "0.500", "0.800", "0.720", "0.480", "1.200", "1.50x", "-"]
