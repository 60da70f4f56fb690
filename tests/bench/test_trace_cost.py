"""The benchmark's figure for what trace ids cost with no SDK: measured on the calls the
services make, and judged against the system's CPU per message from the same run."""

from __future__ import annotations

import math

from bench.report import verdicts
from bench.results import Measurement, TargetRun
from bench.trace_cost import MAX_SHARE, TraceCost, measure_trace_cost
from tests.bench.figures import CONFIG


def run_with(producer_ms: float, consumer_ms: float, trace: TraceCost) -> TargetRun:
    messages = 1000
    run = TargetRun("moto", round_trip=0.001)
    run.measurements["c"] = Measurement(
        key="c",
        label="this system",
        messages=messages,
        seconds=10,
        requests=300,
        latencies=[0.01] * messages,
        process_cpu={
            "producer": producer_ms * messages / 1000,
            "consumer": consumer_ms * messages / 1000,
        },
    )
    run.trace = trace
    return run


def trace_verdict(run: TargetRun) -> bool:
    (verdict,) = [v for v in verdicts([run], CONFIG) if "trace ids" in v.target]
    return verdict.met


def test_the_trace_cost_is_a_share_of_the_producers_and_consumers_cpu_together() -> None:
    run = run_with(1.5, 0.5, TraceCost(producer_ms=0.03, consumer_ms=0.01))
    assert math.isclose(run.trace_share(), 0.02)
    assert trace_verdict(run)


def test_ids_costing_more_than_the_limit_miss_the_target() -> None:
    over = 2.0 * MAX_SHARE * 1.01
    run = run_with(1.5, 0.5, TraceCost(producer_ms=over, consumer_ms=0.0))
    assert not trace_verdict(run)


def test_the_calls_are_timed_for_both_sides_and_each_costs_something() -> None:
    cost = measure_trace_cost(rounds=200)
    assert 0 < cost.producer_ms < 5
    assert 0 < cost.consumer_ms < 5
    assert cost.ms_per_message == cost.producer_ms + cost.consumer_ms
