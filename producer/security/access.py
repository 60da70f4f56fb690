"""Admission to the API and the feed: the key, the origin, the rate, checked in that order.

One object built from settings, so the HTTP routes and the WebSocket judge a caller alike.
Keys travel in `Authorization: Bearer`, `X-API-Key` or, for browsers' WebSockets (which
cannot set headers), as a `bearer.<base64url key>` subprotocol: never in a URL, where proxies
and access logs would keep it.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from producer.security.api_keys import ApiKeys
from producer.security.origins import OriginPolicy
from producer.security.rate_limit import RateLimiter
from shared.settings import ProducerSettings

log = logging.getLogger(__name__)

FEED_SUBPROTOCOL = "sqs-feed"
"""The subprotocol the feed answers with; a browser offering a key must offer this too."""
KEY_SUBPROTOCOL_PREFIX = "bearer."


@dataclass(frozen=True)
class Refusal:
    """Why a caller is turned away, as an HTTP status, a reason and headers to send."""

    status: int
    detail: str
    headers: dict[str, str]


MISSING_KEY = Refusal(
    401,
    "an API key is required: send Authorization: Bearer <key> or X-API-Key: <key>",
    {"WWW-Authenticate": "Bearer"},
)
WRONG_KEY = Refusal(401, "the API key is not valid", {"WWW-Authenticate": "Bearer"})


@dataclass(frozen=True)
class Access:
    keys: ApiKeys
    origins: OriginPolicy
    limiter: RateLimiter | None

    @classmethod
    def from_settings(cls, settings: ProducerSettings) -> Access:
        limiter = (
            RateLimiter.parse(settings.rate_limit, settings.rate_burst)
            if settings.rate_limit
            else None
        )
        return cls(
            ApiKeys.parse(settings.api_keys), OriginPolicy.of(settings.allowed_origins), limiter
        )

    def announce(self) -> None:
        """Say once, at start, what protects the API; an open API is a choice to see."""
        if not self.keys.required:
            log.warning("PRODUCER_API_KEYS is unset: the API is open to anyone who can reach it")
        else:
            log.info("API keys required (%d configured)", len(self.keys.digests))
        if self.limiter:
            log.info("rate limit per caller: %s, burst %g", self.limiter.rate, self.limiter.burst)

    def caller(self, connection: HTTPConnection) -> str | Refusal:
        """Who is calling (a key's name, or the client address when open), or why not."""
        if not self.keys.required:
            client = connection.client
            return f"address:{client.host if client else 'unknown'}"
        presented = presented_key(connection)
        if presented is None:
            return MISSING_KEY
        return self.keys.identify(presented) or WRONG_KEY

    def admit(self, connection: HTTPConnection) -> str | Refusal:
        """The caller, if the origin, the key and the rate all allow it."""
        headers = connection.headers
        if not self.origins.allows(headers.get("origin"), headers.get("host")):
            return Refusal(403, "this origin may not use the producer", {})
        caller = self.caller(connection)
        if isinstance(caller, Refusal) or self.limiter is None:
            return caller
        wait = self.limiter.retry_after(caller)
        if wait:
            return Refusal(
                429, f"rate limit exceeded; retry in {wait}s", {"Retry-After": str(wait)}
            )
        return caller


def presented_key(connection: HTTPConnection) -> str | None:
    """The key from `Authorization: Bearer`, `X-API-Key` or a `bearer.` subprotocol."""
    headers = connection.headers
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if header := headers.get("x-api-key", "").strip():
        return header
    for offered in headers.get("sec-websocket-protocol", "").split(","):
        offered = offered.strip()
        if offered.startswith(KEY_SUBPROTOCOL_PREFIX):
            return _unbase64url(offered.removeprefix(KEY_SUBPROTOCOL_PREFIX))
    return None


def _unbase64url(text: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
