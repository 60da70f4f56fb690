"""An async handler using a client from the consumer's lifespan, for a real consumer.

The resource and every call write to E2E_LIFESPAN_FILE, so the test can tell how often the
client was made, which loop and client each message saw, and that it was closed at the stop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from consumer import handler, resource


def _note(line: str) -> None:
    with open(os.environ["E2E_LIFESPAN_FILE"], "a") as notes:
        notes.write(line + "\n")


@resource
@asynccontextmanager
async def endpoint() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=os.environ["SQS_ENDPOINT_URL"]) as client:
        _note("opened")
        yield client
    _note("closed")


@handler("e2e.async")
async def on_async(payload: dict[str, Any]) -> None:
    client = endpoint()
    answer = await client.get("/moto-api/")  # a real request on the kept connection pool
    answer.raise_for_status()
    _note(f"handled {payload['n']} loop={id(asyncio.get_running_loop())} client={id(client)}")
