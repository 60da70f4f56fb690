"""The consumer-side probe: a handler that records when each bench message reached it.

The consumer loads it through `CONSUMER_HANDLERS=bench.handlers`. Each call appends one line,
`run index sent_at started_at`, to the file named by `BENCH_RECORD_FILE`; `sent_at` is the
wall-clock time the bench client stamped into the payload just before its POST, so the
difference is POST-to-handler latency (one machine, one clock).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from bench.load import MESSAGE_TYPE
from consumer import handler

RECORD_ENV = "BENCH_RECORD_FILE"

_lock = threading.Lock()


@handler(MESSAGE_TYPE)
def on_bench_message(payload: dict[str, Any]) -> None:
    started = time.time()
    line = f"{payload['run']} {payload['i']} {payload['sent_at']:.6f} {started:.6f}\n"
    with _lock, open(os.environ[RECORD_ENV], "a") as record:
        record.write(line)
