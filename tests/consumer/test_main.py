from __future__ import annotations

import re
from collections.abc import AsyncIterator

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


def test_the_example_handler_logs_an_order_id_with_a_newline_as_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from consumer.examples import OrderCreated, on_order_created
    from shared.messages.envelope import Envelope

    order = OrderCreated(order_id="A-1\nINFO forged line", amount=1)
    envelope = Envelope(type="order.created", payload=order.model_dump())
    with caplog.at_level("INFO", logger="consumer.examples"):
        on_order_created(order, envelope)
    [line] = [r.getMessage() for r in caplog.records if r.name == "consumer.examples"]
    assert "\n" not in line
    assert "A-1\\nINFO forged line" in line


def test_a_resource_that_does_not_start_stops_start_up_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from contextlib import asynccontextmanager
    from typing import NoReturn

    from consumer.__main__ import open_resources
    from consumer.resources import Resources

    resources = Resources()

    @asynccontextmanager
    async def database() -> AsyncIterator[NoReturn]:
        raise ConnectionRefusedError("database at 127.0.0.1:5432 refused")
        yield

    resources.declare(database)
    monkeypatch.setattr(registry, "resources", resources)
    with pytest.raises(SystemExit, match="a handler resource did not start: ConnectionRefused"):
        open_resources()
    assert not resources.is_open
