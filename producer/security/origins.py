"""Which browser pages may use the API and the live feed: the producer's own, and those named.

A WebSocket is not covered by CORS: without this check any page a user opens could read the
feed with the user's network position. A client that sends no Origin is no browser, and is
judged by its key alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class OriginPolicy:
    allowed: frozenset[str]

    @classmethod
    def of(cls, origins: Sequence[str]) -> OriginPolicy:
        return cls(frozenset(origin.rstrip("/").lower() for origin in origins))

    @property
    def cross_origin(self) -> bool:
        """Whether pages other than the producer's own are allowed (CORS is then answered)."""
        return bool(self.allowed)

    def allows(self, origin: str | None, host: str | None) -> bool:
        """`origin` as the browser sent it; `host` is the Host header the request came to."""
        if origin is None:
            return True
        origin = origin.rstrip("/").lower()
        if "*" in self.allowed or origin in self.allowed:
            return True
        parts = urlsplit(origin)
        return (
            parts.scheme in ("http", "https") and host is not None and parts.netloc == host.lower()
        )
