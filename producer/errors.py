"""Every failure becomes a JSON answer with the right status; none leaks a stack trace."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from producer.schemas import MORE_ERRORS
from shared.aws import AwsError, AwsRequestError, AwsUnavailableError, MessageTooLargeError

log = logging.getLogger(__name__)

_CLIENT_FAULT_CODES = frozenset({"InvalidMessageContents", "InvalidParameterValue"})


def _problem(status_code: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


MAX_LISTED_ERRORS = 10
"""A 422 lists this many problems and counts the rest."""
MAX_ERROR_TEXT = 200
"""Longest text one part of a listed problem carries (a message, a field name, a limit)."""
MAX_ANSWER_BYTES = 4096
"""A 422 is never larger than this, whatever the body held: problems are dropped from the
end, and counted, until it fits."""


def _cut(text: object) -> str:
    text = str(text)
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 1] + "…"


def _field_name(loc: Sequence[Any]) -> str:
    parts = [_cut(part) for part in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def _listed(error: dict[str, Any]) -> dict[str, Any]:
    """One problem as the answer shows it: no echo of the input, no link, bounded text."""
    listed: dict[str, Any] = {
        "type": _cut(error.get("type", "value_error")),
        "loc": [part if isinstance(part, int) else _cut(part) for part in error.get("loc", ())],
        "msg": _cut(error.get("msg", "")),
    }
    ctx = error.get("ctx")
    if isinstance(ctx, dict):
        listed["ctx"] = {_cut(k): _cut(v) for k, v in list(ctx.items())[:3]}
    return listed


def validation_answer(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The 422 body: the first problems, how many more, and a one-line summary of them."""
    more = sum(int(e.get("ctx", {}).get("more", 0)) for e in errors if e.get("type") == MORE_ERRORS)
    found = [e for e in errors if e.get("type") != MORE_ERRORS]
    shown = [_listed(error) for error in itertools.islice(found, MAX_LISTED_ERRORS)]
    more += len(found) - len(shown)
    while True:
        summary = "; ".join(f"{_field_name(e['loc'])}: {e['msg']}" for e in shown)
        if more:
            summary += f"; and {more} more"
        answer = {"message": summary, "detail": shown, "more": more}
        if len(json.dumps(answer)) <= MAX_ANSWER_BYTES or len(shown) == 1:
            return answer
        shown = shown[:-1]
        more += 1


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """JSON of the wrong shape is a 422 naming the first fields at fault and counting the rest."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type
    return JSONResponse(
        validation_answer(exc.errors()), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


async def on_too_large(request: Request, exc: Exception) -> JSONResponse:
    return _problem(status.HTTP_413_CONTENT_TOO_LARGE, str(exc))


def on_unavailable(retry_after: int) -> Any:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        log.warning("AWS unavailable for %s %s: %s", request.method, request.url.path, exc)
        return _problem(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"message not stored: {exc}",
            headers={"Retry-After": str(retry_after)},
        )

    return handler


async def on_rejected(request: Request, exc: Exception) -> JSONResponse:
    """SQS or SNS refused the request: the client's fault if the content was invalid, else ours."""
    assert isinstance(exc, AwsRequestError)  # noqa: S101 - registered for this type
    service = exc.service
    if exc.code in _CLIENT_FAULT_CODES:
        return _problem(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{service} refused the message: {exc}"
        )
    log.error("%s refused %s %s: %s", service, request.method, request.url.path, exc)
    return _problem(
        status.HTTP_502_BAD_GATEWAY, f"message not stored: {service} refused it ({exc.code})"
    )


async def on_client_gone(request: Request, exc: Exception) -> JSONResponse:
    """The client left mid-body: nothing was sent, and nobody is there to read an answer."""
    log.info("client left during %s %s; nothing sent", request.method, request.url.path)
    return _problem(status.HTTP_400_BAD_REQUEST, "the request body did not arrive; nothing sent")


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return _problem(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal error; nothing was sent")


def install_error_handlers(app: FastAPI, retry_after: int) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(MessageTooLargeError, on_too_large)
    app.add_exception_handler(AwsRequestError, on_rejected)
    # QueueNotFoundError and AwsUnavailableError: the queue cannot take messages right now.
    app.add_exception_handler(AwsUnavailableError, on_unavailable(retry_after))
    app.add_exception_handler(AwsError, on_unavailable(retry_after))
    app.add_exception_handler(ClientDisconnect, on_client_gone)
    app.add_exception_handler(Exception, on_unexpected)
