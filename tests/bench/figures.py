"""A bench run's settings for tests that judge known figures: the defaults of `make bench`."""

from __future__ import annotations

from bench.results import Config

CONFIG = Config(
    messages=1000,
    clients=32,
    cap=50,
    wait_seconds=1,
    delay_ms=20,
    light_messages=50,
    light_interval=0.2,
    timeout=60,
    batch_window_ms=5,
)
