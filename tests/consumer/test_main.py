from __future__ import annotations

import re

import pytest

from consumer.__main__ import load_handler_modules, main
from consumer.registry import registry


def test_handler_modules_register_on_import() -> None:
    load_handler_modules(["consumer.examples"])
    assert "order.created" in registry.types


def test_a_handler_module_that_does_not_import_stops_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSUMER_HANDLERS", "consumer.examples, no_such.module")
    with pytest.raises(SystemExit, match=re.escape("cannot import 'no_such.module'")):
        main()
