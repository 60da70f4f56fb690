"""Request bodies, read one way for every route: JSON only, parsed strictly, never a 500.

FastAPI parses JSON bodies with the standard library, which takes `NaN`, `1e400` and lone
surrogates and raises RecursionError (a 500) on deep nesting. Routes built with
`StrictJsonRoute` read their body through `parse_strict` instead, the rules the consumer
reads by, and answer what they refuse with a short 4xx before any validation runs.
"""

from __future__ import annotations

import asyncio
import email.message
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from typing_extensions import override

from shared.messages.json_text import JsonRefusedError, parse_strict

OFF_LOOP_BYTES = 64 * 1024
"""Bodies larger than this are parsed in a thread, so one large request cannot stall the
others; smaller ones parse faster than a thread hand-off."""


def is_json_media_type(content_type: str | None) -> bool:
    """`application/json` or `application/<anything>+json`, parameters aside."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class StrictJsonRequest(Request):
    """A request whose `json()` refuses what SQS or the consumer could not carry."""

    @override
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                if len(body) > OFF_LOOP_BYTES:
                    self._json = await asyncio.to_thread(parse_strict, body)
                else:
                    self._json = parse_strict(body)
            except JsonRefusedError as exc:
                raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
        return self._json


class StrictJsonRoute(APIRoute):
    """A route whose body, when it takes one, must be JSON: 415 otherwise, 400 if malformed."""

    @override
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = self.answer()
        takes_body = self.body_field is not None

        async def strict_handler(request: Request) -> Response:
            strict = StrictJsonRequest(request.scope, request.receive)
            if takes_body and await strict.body():
                content_type = strict.headers.get("content-type")
                if not is_json_media_type(content_type):
                    raise HTTPException(
                        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                        detail="Content-Type must be application/json, "
                        f"got {(content_type or 'none')[:100]!r}",
                    )
            return await handle(strict)

        return strict_handler

    def answer(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """What answers a request once its body has passed: FastAPI's own handler."""
        return super().get_route_handler()
