"""Pausing after a failed call to a dependency (SQS down, throttled), shared by every loop.

Doubling per consecutive failure up to a cap, with the upper half jittered so that many
processes restarted together do not retry in step.
"""

from __future__ import annotations

import random

BASE_SECONDS = 0.5
"""The first pause's ceiling; the pause itself is between half of it and all of it."""


def error_backoff(failures: int, cap: float, rng: random.Random | None = None) -> float:
    ceiling = min(cap, BASE_SECONDS * 2.0 ** (failures - 1))
    uniform = (rng or random).uniform
    return ceiling / 2 + uniform(0, ceiling / 2)
