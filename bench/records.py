"""Reading the probe handler's record file while it grows."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.periodic import every

FOLLOW_SECONDS = 0.02


@dataclass
class Records:
    """Per run, each message index's send time and handler start, first delivery only."""

    path: Path
    runs: dict[str, dict[int, tuple[float, float]]] = field(default_factory=dict)
    duplicates: int = 0
    _offset: int = 0
    _partial: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def poll(self) -> None:
        """Take in whatever complete lines were appended since the last poll."""
        with self._lock:
            if not self.path.exists():
                return
            with self.path.open() as record:
                record.seek(self._offset)
                text = record.read()
                self._offset = record.tell()
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
            for line in lines:
                self._take(line)

    def _take(self, line: str) -> None:
        run, index, sent_at, started_at = line.split()
        handled = self.runs.setdefault(run, {})
        if int(index) in handled:
            self.duplicates += 1
        else:
            handled[int(index)] = (float(sent_at), float(started_at))

    def count(self, run: str) -> int:
        return len(self.runs.get(run, {}))

    def latencies(self, run: str) -> list[float]:
        return [started - sent for sent, started in self.runs.get(run, {}).values()]

    def last_start(self, run: str) -> float:
        starts = [started for _, started in self.runs.get(run, {}).values()]
        return max(starts) if starts else math.nan


@contextmanager
def following(records: Records) -> Iterator[Records]:
    """Poll `records` in the background every 20 ms while the block runs."""
    with every(FOLLOW_SECONDS, records.poll, "records"):
        yield records
    records.poll()
