"""Turning measurements into the aligned text table, the markdown table of docs/benchmark.md and the
verdict on each of the targets."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from bench.results import Config, LightLoad, Measurement, TargetRun
from bench.trace_cost import MAX_SHARE

CONTENDERS = {
    "a": "(a) naive",
    "b": "(b) raw batched",
    "c": "(c) this system",
    "d": "(d) HTTP ceiling",
    "f": "(f) HTTP floor",
}
COLUMNS = ["endpoint", "contender", "msg/s", "req/msg", "p50 ms", "p95 ms", "p99 ms", "lost"]
RATIO_COLUMNS = [
    "endpoint",
    "(c)/(a)",
    "(c)/(b)",
    "(c)/(d)",
    "light load: POST->handler",
    "POST->202",
    "SQS round trip",
]
CPU_COLUMNS = [
    "endpoint",
    "(b) loop",
    "(f) bare route",
    "floor",
    "(c) producer",
    "(c) consumer",
    "(c) both",
    "(c)/floor",
    "(d) server",
]
MAX_REQUESTS_PER_MESSAGE = 0.32
MAX_CPU_OVER_FLOOR = 1.5
"""(c)'s producer and consumer CPU per message, at most this many times the floor's."""
MIN_OVER_RAW_LOOP = 2.0
"""(c)'s throughput, at least this many times the raw batched loop's (b)."""
LIGHT_LOAD_ROUND_TRIPS = 3


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool


def _number(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def _row(run: TargetRun, m: Measurement) -> list[str]:
    return [
        run.name,
        CONTENDERS[m.key],
        _number(m.rate, 0),
        _number(m.requests_per_message, 3),
        _number(m.latency_ms(50)),
        _number(m.latency_ms(95)),
        _number(m.latency_ms(99)),
        str(m.errors),
    ]


def _rows(runs: Sequence[TargetRun]) -> list[list[str]]:
    return [
        _row(run, run.measurements[key])
        for run in runs
        for key in CONTENDERS
        if key in run.measurements
    ]


def _ratio_row(run: TargetRun) -> list[str]:
    light = run.light.median_ms if run.light else math.nan
    answer = run.light.answer_median_ms if run.light else math.nan
    return [
        run.name,
        f"{_number(run.ratio('c', 'a'))}x",
        f"{_number(run.ratio('c', 'b'), 2)}x",
        f"{_number(run.ratio('c', 'd'), 2)}x",
        f"{_number(light)} ms",
        f"{_number(answer)} ms",
        f"{_number(run.round_trip * 1000)} ms",
    ]


def _aligned(header: list[str], rows: list[list[str]], left: int) -> str:
    """Plain-text columns: the first `left` left-aligned, numbers right-aligned."""
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def _markdown(header: list[str], rows: list[list[str]], left: int) -> str:
    align = ["---" if i < left else "---:" for i in range(len(header))]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def verdicts(runs: Sequence[TargetRun], config: Config) -> list[Verdict]:
    """The targets, each against the run it is about."""
    found: list[Verdict] = []
    for run in runs:
        c = run.measurements.get("c")
        if c is not None:
            found.append(
                Verdict(
                    f"{run.name}: (c) SQS+SNS requests/message, status events included"
                    f" <= {MAX_REQUESTS_PER_MESSAGE}",
                    _number(c.requests_per_message, 3),
                    c.requests_per_message <= MAX_REQUESTS_PER_MESSAGE,
                )
            )
        if run.trace is not None:
            share = run.trace_share()
            found.append(
                Verdict(
                    f"{run.name}: (c) trace ids with no SDK <= {MAX_SHARE:.0%} of its CPU/msg",
                    f"{run.trace.ms_per_message:.3f} ms = {share:.1%}",
                    share <= MAX_SHARE,
                )
            )
        if run.delayed:
            found += _delayed_verdicts(run)
        if run.light is not None:
            found.append(_light_verdict(run, run.light, config))
    return found


def _delayed_verdicts(run: TargetRun) -> list[Verdict]:
    ca, cb = run.ratio("c", "a"), run.ratio("c", "b")
    over_floor = run.over_floor()
    return [
        Verdict(f"{run.name}: (c) >= 10x (a)", f"{_number(ca)}x", ca >= 10),
        Verdict(
            f"{run.name}: (c) >= {MIN_OVER_RAW_LOOP:g}x (b)",
            f"{_number(cb, 2)}x",
            cb >= MIN_OVER_RAW_LOOP,
        ),
        Verdict(
            f"{run.name}: (c) producer + consumer CPU/msg <= {MAX_CPU_OVER_FLOOR:g}x the floor"
            " ((b)'s loop + (f)'s bare route)",
            f"{_number(run.system_cpu_ms(), 3)} ms = {_number(over_floor, 2)}x"
            f" {_number(run.floor_cpu_ms(), 3)} ms",
            over_floor <= MAX_CPU_OVER_FLOOR,
        ),
    ]


def _cpu_row(run: TargetRun) -> list[str]:
    def ms(key: str, process: str) -> str:
        m = run.measurements.get(key)
        return _number(m.cpu_ms_per_message(process) if m else math.nan, 3)

    return [
        run.name,
        ms("b", "loop"),
        ms("f", "server"),
        _number(run.floor_cpu_ms(), 3),
        ms("c", "producer"),
        ms("c", "consumer"),
        _number(run.system_cpu_ms(), 3),
        f"{_number(run.over_floor(), 2)}x",
        ms("d", "server"),
    ]


def _light_verdict(run: TargetRun, light: LightLoad, config: Config) -> Verdict:
    rtt_ms = run.round_trip * 1000
    limit = config.batch_window_ms + LIGHT_LOAD_ROUND_TRIPS * rtt_ms
    median = light.median_ms
    return Verdict(
        f"{run.name}: light-load median <= batch window + {LIGHT_LOAD_ROUND_TRIPS} round trips"
        f" ({_number(limit)} ms)",
        f"{_number(median)} ms = {_number(median / rtt_ms)} round trips",
        median <= limit,
    )


def header(config: Config) -> str:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"SQS benchmark: {config.messages} messages per measurement, {config.clients} HTTP"
        f" clients, queue depth cap {config.cap}, SQS_WAIT_TIME_SECONDS={config.wait_seconds},"
        f" proxy delay {config.delay_ms:g} ms per request\n"
        f"light load: {config.light_messages} messages, one every"
        f" {config.light_interval * 1000:.0f} ms; machine: {os.cpu_count()} cores,"
        f" load average {load}"
    )


def render_text(runs: Sequence[TargetRun], config: Config) -> str:
    results = _aligned(COLUMNS, _rows(runs), left=2)
    ratios = _aligned(RATIO_COLUMNS, [_ratio_row(run) for run in runs], left=1)
    cpu = _aligned(CPU_COLUMNS, [_cpu_row(run) for run in runs], left=1)
    targets = "\n".join(
        f"  [{'met ' if v.met else 'MISS'}] {v.target}: {v.measured}"
        for v in verdicts(runs, config)
    )
    calls = "\n".join(_operations(runs))
    return (
        f"{header(config)}\n\n{results}\n\n{ratios}\n\n"
        f"CPU ms per message, each process's own (floor: (b)'s loop + (f)'s bare route):\n"
        f"{cpu}\n\n"
        f"SQS and SNS requests per message by operation (messages per call):\n{calls}\n\n"
        f"targets:\n{targets}"
    )


def _operations(runs: Sequence[TargetRun]) -> list[str]:
    """Where the requests go: the batching each contender actually achieved."""
    lines = []
    for run in runs:
        for key in ("b", "c"):
            m = run.measurements.get(key)
            if m is None or not m.messages:
                continue
            parts = [
                f"{op} {count / m.messages:.3f} ({m.messages / count:.1f})"
                for op, count in sorted(m.operations.items(), key=lambda item: -item[1])
            ]
            lines.append(f"  {run.name} {CONTENDERS[key][:3]}: " + ", ".join(parts))
    for run in runs:
        measured = [key for key in ("a", "b", "c") if key in run.endpoint_cpu]
        busy = ", ".join(
            f"{key} {run.endpoint_busy(key):.0%} (machine {run.machine_busy[key]:.0%})"
            for key in measured
        )
        lines.append(f"  {run.name}: endpoint CPU, share of one core (of all cores): {busy}")
    return lines


def render_markdown(runs: Sequence[TargetRun]) -> str:
    results = _markdown(COLUMNS, _rows(runs), left=2)
    ratios = _markdown(RATIO_COLUMNS, [_ratio_row(run) for run in runs], left=1)
    cpu = _markdown(CPU_COLUMNS, [_cpu_row(run) for run in runs], left=1)
    return f"{results}\n\n{ratios}\n\n{cpu}"
