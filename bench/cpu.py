"""How much CPU a process, or the whole machine, has used so far, and what a process holds
now (threads, memory): read from /proc."""

from __future__ import annotations

import math
import os
from pathlib import Path


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system, all threads) a process has used so far; nan if unknown."""
    if pid is None:
        return math.nan
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU ticks of the whole machine so far, all cores; (nan, nan) if unknown."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return math.nan, math.nan
    ticks = [int(value) for value in first[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


def thread_count(pid: int | None) -> int:
    """Threads a process has now; 0 if unknown."""
    return int(_status_field(pid, "Threads:"))


def rss_mib(pid: int | None) -> float:
    """The memory a process holds now (resident set), MiB; nan if unknown."""
    kib = _status_field(pid, "VmRSS:", default=math.nan)
    return kib / 1024


def _status_field(pid: int | None, name: str, default: float = 0) -> float:
    """A number from /proc/<pid>/status (the first after `name`); `default` if unknown."""
    if pid is None:
        return default
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return default
    return next(
        (float(line.split()[1]) for line in status.splitlines() if line.startswith(name)),
        default,
    )
