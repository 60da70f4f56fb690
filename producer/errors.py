"""Every failure becomes a JSON answer with the right status; none leaks a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from shared.aws import AwsError, AwsRequestError, AwsUnavailableError, MessageTooLargeError

log = logging.getLogger(__name__)

_CLIENT_FAULT_CODES = frozenset({"InvalidMessageContents", "InvalidParameterValue"})


def _problem(status_code: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Malformed JSON is a 400; JSON of the wrong shape is a 422 naming each field."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type
    errors = exc.errors()
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error", "not valid JSON")
            return _problem(status.HTTP_400_BAD_REQUEST, f"malformed JSON: {reason}")
    summary = "; ".join(f"{_field_name(e['loc'])}: {e['msg']}" for e in errors)
    detail = [{k: v for k, v in e.items() if k not in ("input", "url")} for e in errors]
    return JSONResponse(
        {"message": summary, "detail": jsonable_encoder(detail)},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
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
    app.add_exception_handler(Exception, on_unexpected)
