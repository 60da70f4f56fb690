"""What the bench's tests share: the environment `python -m bench` gives itself."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bench.environment import child_env, use_own_env


@pytest.fixture
def bench_environment() -> Iterator[dict[str, str]]:
    """The bench's child environment, also its own (as `python -m bench` sets it); the
    test's environment is back afterwards."""
    saved = dict(os.environ)
    env = child_env([])
    use_own_env(env)
    try:
        yield env
    finally:
        os.environ.clear()
        os.environ.update(saved)
