"""What `python -m bench.io_model` measures per model and K, and the table it prints."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.io_workloads import Tally
from bench.results import percentile


@dataclass
class Clock:
    """Wall and CPU time of this process since it was made."""

    wall: float = field(default_factory=time.perf_counter)
    cpu: float = field(default_factory=time.process_time)

    def window(self, model: str, workers: int, tally: Tally) -> Window:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        return Window(model, workers, wall, cpu, tally)


@dataclass(frozen=True)
class Window:
    """One measurement: K workers of one model for a fixed time."""

    model: str
    workers: int
    seconds: float
    cpu: float
    tally: Tally

    @property
    def calls(self) -> int:
        return len(self.tally.latencies)

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    @property
    def cpu_per_1000(self) -> float:
        return 1000 * self.cpu / self.calls if self.calls else float("nan")

    def latency_ms(self, q: float) -> float:
        return 1000 * percentile(self.tally.latencies, q)

    def summary(self) -> str:
        """One line per measurement as it ends; "not deleted" shows the queues stay shallow."""
        return (
            f"K={self.workers:<3} {self.model:8} {self.rate:7.0f} req/s"
            f" {self.cpu_per_1000:6.2f} CPU s/1000 req  p50 {self.latency_ms(50):6.1f} ms"
            f"  (sent {self.tally.sent}, not deleted {self.tally.sent - self.tally.deleted})"
        )

    @classmethod
    def combined(cls, windows: Sequence[Window]) -> Window:
        """The repeats of one model at one K as one longer measurement."""
        first = windows[0]
        return cls(
            first.model,
            first.workers,
            sum(w.seconds for w in windows),
            sum(w.cpu for w in windows),
            Tally.merged([w.tally for w in windows]),
        )


def _row(k: int, name: str, cells: Sequence[float], errors: str) -> str:
    """Figures as measured; a ratio row (no error count) gets two decimals throughout."""
    if errors:
        rate, cpu, busy, p50, p99 = cells
        figures = f"{rate:,.0f} | {cpu:.2f} | {busy:.0f} | {p50:.1f} | {p99:.1f}"
    else:
        figures = " | ".join(f"{x:.2f}" for x in cells)
    return f"| {k} | {name} | {figures} | {errors} |"


def render(windows: Sequence[Window]) -> str:
    """A markdown table: each K's threads row, asyncio row (repeats combined), their ratio."""
    lines = [
        "| K | model | req/s | client CPU s / 1000 req | client CPU % | p50 ms | p99 ms | errors |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for k in sorted({w.workers for w in windows}):
        pair = [
            Window.combined([w for w in windows if (w.workers, w.model) == (k, model)])
            for model in ("threads", "asyncio")
        ]
        cells = [
            (w.rate, w.cpu_per_1000, 100 * w.cpu / w.seconds, w.latency_ms(50), w.latency_ms(99))
            for w in pair
        ]
        for w, figures in zip(pair, cells, strict=True):
            lines.append(_row(k, w.model, figures, str(w.tally.errors)))
        ratio = tuple(a / t for t, a in zip(*cells, strict=True))
        lines.append(_row(k, "async/threads", ratio, ""))
    return "\n".join(lines)
