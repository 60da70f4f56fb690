"""What one measurement yields, and the few statistics the report needs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.trace_cost import TraceCost


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Measurement:
    """N messages moved by one contender: wall time, SQS requests and per-message latency."""

    key: str
    """`a`, `b`, `c`, `d` or `f`."""
    label: str
    messages: int
    seconds: float
    """From the first send to the last receipt (or handler start, or HTTP answer)."""
    requests: float
    """SQS requests (HTTP attempts) made while moving them."""
    latencies: Sequence[float] = field(repr=False)
    """Seconds from each send (or POST) to its receipt (or handler start, or answer)."""
    errors: int = 0
    """Messages that did not make it (non-202 answers, missing receipts)."""
    operations: Mapping[str, float] = field(default_factory=dict)
    """The SQS requests by operation (SendMessageBatch, ReceiveMessage, ...)."""
    process_cpu: Mapping[str, float] = field(default_factory=dict)
    """CPU seconds each process used while moving them: (c)'s producer and consumer, a
    baseline's own loop (`loop`), (d)'s and (f)'s `server`."""
    peak_threads: Mapping[str, int] = field(default_factory=dict)
    """Most threads each of our processes had at once while moving them."""
    rss_mib: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """Memory each of our processes held before and after moving them, MiB."""

    def cpu_ms_per_message(self, process: str) -> float:
        seconds = self.process_cpu.get(process, math.nan)
        return seconds * 1000 / self.messages if self.messages else math.nan

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else math.nan

    @property
    def requests_per_message(self) -> float:
        return self.requests / self.messages if self.messages else math.nan

    def latency_ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


@dataclass(frozen=True)
class LightLoad:
    """A trickle through the system: how quickly a lone message reaches its handler."""

    messages: int
    latencies: Sequence[float] = field(repr=False)
    """POST to handler start."""
    answers: Sequence[float] = field(default=(), repr=False)
    """POST to its 202: the producer's share (batch window and SendMessageBatch)."""

    @property
    def median_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def answer_median_ms(self) -> float:
        return percentile(self.answers, 50) * 1000


@dataclass
class TargetRun:
    """Everything measured against one endpoint (direct, delayed or localstack)."""

    name: str
    round_trip: float
    """Median seconds of one SendMessage as the naive sender saw it: one SQS round trip."""
    delayed: bool = False
    """True for the run through the delaying proxy, which the throughput targets are about."""
    measurements: dict[str, Measurement] = field(default_factory=dict)
    light: LightLoad | None = None
    endpoint_pid: int | None = None
    endpoint_cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds the endpoint's process used during each measurement."""
    machine_busy: dict[str, float] = field(default_factory=dict)
    """Share of all the machine's cores busy during each measurement."""
    trace: TraceCost | None = None
    """What (c)'s trace ids cost per message with no SDK, measured right after (c)."""

    def trace_share(self) -> float:
        """The trace ids' CPU per message over (c)'s, producer and consumer together."""
        if self.trace is None:
            return math.nan
        return self.trace.ms_per_message / self.system_cpu_ms()

    def system_cpu_ms(self) -> float:
        """(c)'s producer and consumer CPU per message together."""
        c = self.measurements.get("c")
        if c is None:
            return math.nan
        return c.cpu_ms_per_message("producer") + c.cpu_ms_per_message("consumer")

    def floor_cpu_ms(self) -> float:
        """The least a message can cost: the raw batched loop's own CPU per message (b) plus
        the bare route's CPU per request (f), both measured in this run."""
        b, f = self.measurements.get("b"), self.measurements.get("f")
        if b is None or f is None:
            return math.nan
        return b.cpu_ms_per_message("loop") + f.cpu_ms_per_message("server")

    def over_floor(self) -> float:
        """(c)'s CPU per message over the floor's."""
        return self.system_cpu_ms() / self.floor_cpu_ms()

    def endpoint_busy(self, key: str) -> float:
        """The endpoint's CPU over the measurement's wall time: 1.0 is one core, flat out."""
        m = self.measurements.get(key)
        cpu = self.endpoint_cpu.get(key, math.nan)
        return cpu / m.seconds if m is not None and m.seconds > 0 else math.nan

    def ratio(self, top: str, bottom: str) -> float:
        """Throughput of `top` over that of `bottom`."""
        upper, lower = self.measurements.get(top), self.measurements.get(bottom)
        if upper is None or lower is None or not lower.rate:
            return math.nan
        return upper.rate / lower.rate


@dataclass(frozen=True)
class Config:
    """The knobs of one benchmark run, printed with its results."""

    messages: int
    clients: int
    cap: int
    wait_seconds: int
    delay_ms: float
    light_messages: int
    light_interval: float
    timeout: float
    batch_window_ms: float
    """The producer's batch window: a lone message waits this long by design."""
