"""A route that answers through a plan made once, not FastAPI's walk of it on each request.

FastAPI solves a route's dependencies for every request: it walks the tree, looks each one up
in a cache, and validates each parameter through its general machinery, then validates the
returned model again. For `POST /messages`, the hot path, that cost about as much CPU as a
bare route's whole request (docs/benchmark.md). A `DirectRoute` makes the walk into a plan
when the app is built (the request, a response to set headers on, each header, the body, each
dependency with its own plan) and follows it on each request. The declaration is the one
FastAPI documents the route from, and every value is checked by the field FastAPI would
check it with, so the answers do not change: a 422 names the same locations in the same words.

A plan covers what the hot routes use. Anything else (a generator dependency, a query or
cookie parameter, a form, security scopes, background tasks) is refused when the route is
built, never at a request. While a test overrides a dependency, FastAPI's own handler answers.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

from fastapi import Request, Response, routing
from fastapi._compat import ModelField
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from fastapi.utils import is_body_allowed_for_status_code
from typing_extensions import override

from producer.request_body import StrictJsonRoute

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Errors = list[dict[str, Any]]
_ABSENT = object()
"""No header by that name, or no body: not the same as a JSON `null`, which is checked."""


class UnplannableRouteError(TypeError):
    """The route declares something a plan does not cover."""


class _Solving:
    """One request's progress through its plan: what is known so far, and what went wrong."""

    __slots__ = ("errors", "known", "request", "response")

    def __init__(self, request: Request) -> None:
        self.request = request
        self.response = Response()
        del self.response.headers["content-length"]
        self.response.status_code = None  # type: ignore[assignment]  # unset, as FastAPI's
        self.errors: Errors = []
        self.known: dict[Callable[..., Any], Any] = {}


Fill = Callable[[_Solving, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class _Plan:
    """How to call one function: each parameter filled in order, dependencies first."""

    call: Callable[..., Any]
    fills: tuple[Fill, ...]

    async def arguments(self, solving: _Solving) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for fill in self.fills:
            await fill(solving, values)
        return values


def plan(dependant: Dependant, body_field: ModelField | None) -> _Plan:
    """The plan for `dependant`; raises `UnplannableRouteError` for what it cannot cover."""
    unplannable = [
        name
        for name, given in (
            ("query parameters", dependant.query_params),
            ("cookie parameters", dependant.cookie_params),
            ("path parameters", dependant.path_params),
            ("a WebSocket", dependant.websocket_param_name),
            ("background tasks", dependant.background_tasks_param_name),
            ("security scopes", dependant.security_scopes_param_name),
        )
        if given
    ]
    if len(dependant.body_params) > 1:
        unplannable.append("more than one body parameter")
    call = dependant.call
    if not inspect.iscoroutinefunction(call):
        unplannable.append("a call that is not a plain `async def`")
    if unplannable:
        raise UnplannableRouteError(f"{call!r} takes {', '.join(unplannable)}")
    assert call is not None  # noqa: S101 - refused above otherwise
    fills: list[Fill] = [_dependency(sub, body_field) for sub in dependant.dependencies]
    fills += [
        _request(name)
        for name in (dependant.request_param_name, dependant.http_connection_param_name)
        if name
    ]
    if dependant.response_param_name:
        fills.append(_response(dependant.response_param_name))
    fills += [_header(field) for field in dependant.header_params]
    if dependant.body_params:
        if body_field is None:
            raise UnplannableRouteError(f"{call!r} takes a body its route does not declare")
        fills.append(_body(dependant.body_params[0].name, body_field))
    return _Plan(call, tuple(fills))


def _dependency(dependant: Dependant, body_field: ModelField | None) -> Fill:
    name, call = dependant.name, dependant.call
    if isinstance(call, SecurityBase):
        # A scheme is declared for the schema; its callable reads the request alone.
        scheme = cast(Callable[[Request], Awaitable[Any]], call)

        async def from_scheme(solving: _Solving, values: dict[str, Any]) -> None:
            if name:
                values[name] = await scheme(solving.request)

        return from_scheme
    sub = plan(dependant, body_field)

    async def from_dependency(solving: _Solving, values: dict[str, Any]) -> None:
        if sub.call in solving.known:  # one call per request, as FastAPI caches it
            value = solving.known[sub.call]
        else:
            value = await sub.call(**await sub.arguments(solving))
            solving.known[sub.call] = value
        if name:
            values[name] = value

    return from_dependency


def _request(name: str) -> Fill:
    async def fill(solving: _Solving, values: dict[str, Any]) -> None:
        values[name] = solving.request

    return fill


def _response(name: str) -> Fill:
    async def fill(solving: _Solving, values: dict[str, Any]) -> None:
        values[name] = solving.response

    return fill


def _header(field: ModelField) -> Fill:
    if field.alias == field.name:
        raise UnplannableRouteError(f"header {field.name!r} needs its name given as an alias")
    loc = ("header", field.alias)

    async def fill(solving: _Solving, values: dict[str, Any]) -> None:
        given = solving.request.headers.get(field.alias, _ABSENT)
        values[field.name] = _validated(field, given, loc, solving.errors)

    return fill


def _body(name: str, field: ModelField) -> Fill:
    async def fill(solving: _Solving, values: dict[str, Any]) -> None:
        request = solving.request
        given = await request.json() if await request.body() else _ABSENT
        values[name] = _validated(field, given, ("body",), solving.errors)

    return fill


def _validated(field: ModelField, given: Any, loc: tuple[str, ...], errors: Errors) -> Any:
    """`given` checked by FastAPI's own field for it; a missing value takes the default."""
    if given is _ABSENT:
        if field.field_info.is_required():
            errors.append({"type": "missing", "loc": loc, "msg": "Field required", "input": None})
            return None
        return field.get_default()
    value, found = field.validate(given, {}, loc=loc)
    if found:
        errors.extend(found)
    return value


class DirectRoute(StrictJsonRoute):
    """A JSON route (415 and 400 as `StrictJsonRoute`) answered through its plan."""

    @override
    def answer(self) -> Handler:
        fastapi_handler = super().answer()
        route = _as_included(self)
        route_plan = plan(route.dependant, route.body_field)
        status_code, response_field = route.status_code, route.response_field
        if response_field is None:
            raise UnplannableRouteError(f"{route.path}: a direct route declares what it returns")
        overrides = route.dependency_overrides_provider

        async def direct(request: Request) -> Response:
            if overrides is not None and getattr(overrides, "dependency_overrides", None):
                return await fastapi_handler(request)
            solving = _Solving(request)
            arguments = await route_plan.arguments(solving)
            if solving.errors:
                raise RequestValidationError(solving.errors)
            raw = await route_plan.call(**arguments)
            if isinstance(raw, Response):
                return raw
            return _respond(raw, solving.response, status_code, response_field)

        return direct


def _as_included(route: APIRoute) -> Any:
    """The route as its router includes it, with the router's dependencies (the access
    guard) in its dependant. FastAPI builds an included route's handler with this context
    current, and reads it the same way; without it, a plan would skip the guard. The
    context variable is FastAPI's own, not public: should an upgrade change it, the keyless
    POSTs of `tests/producer/test_access.py` get 202s and fail."""
    context = routing._effective_route_context_var.get()
    if context is not None and context.original_route is route:
        return context
    return route


def _respond(raw: Any, sub: Response, status_code: int | None, field: ModelField) -> Response:
    """What FastAPI makes of a returned value: checked by the response model, dumped to JSON
    by pydantic, with the status and headers the endpoint set on its `Response`."""
    value, errors = field.validate(raw, {}, loc=("response",))
    if errors:
        raise ResponseValidationError(errors, body=raw)
    response = Response(
        content=field.serialize_json(value, by_alias=True),
        media_type="application/json",
        status_code=sub.status_code or status_code or 200,
    )
    if not is_body_allowed_for_status_code(response.status_code):
        response.body = b""
    response.headers.raw.extend(sub.headers.raw)
    return response
