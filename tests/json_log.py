"""Capturing what a process would write with `LOG_FORMAT=json`, as parsed lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.logging import JsonFormatter


class JsonLines:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def about(self, text: str) -> list[dict[str, Any]]:
        """The lines whose message contains `text`."""
        return [line for line in self.lines() if text in line["message"]]


@contextmanager
def json_log(level: int = logging.INFO) -> Iterator[JsonLines]:
    """Every record logged within, formatted as `LOG_FORMAT=json` would write it."""
    captured = JsonLines()
    handler = logging.StreamHandler(captured.stream)
    handler.setFormatter(JsonFormatter("test"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
