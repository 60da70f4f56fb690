"""API keys: several at once for rotation, each given plainly or as its SHA-256.

Keys are kept only as digests and a presented key is compared against every one of them in
constant time, so neither the answer nor its timing tells how much of a key was right.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import SecretStr

HASH_PREFIX = "sha256:"


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True)
class ApiKeys:
    """The configured keys as digests; empty means the API is open."""

    digests: tuple[bytes, ...]

    @classmethod
    def parse(cls, keys: Sequence[SecretStr]) -> ApiKeys:
        """`sha256:<hex>` is a key's digest (a config file need not hold the secret)."""
        digests = []
        for key in keys:
            text = key.get_secret_value()
            if text.startswith(HASH_PREFIX):
                digests.append(bytes.fromhex(text.removeprefix(HASH_PREFIX)))
            else:
                digests.append(digest(text))
        return cls(tuple(digests))

    @property
    def required(self) -> bool:
        return bool(self.digests)

    def identify(self, presented: str | None) -> str | None:
        """The caller's name (`key:` and the digest's first 8 hex digits) or None if no match.

        The name is safe to log and to count a rate against; it reveals nothing of the key.
        """
        if not presented:
            return None
        given = digest(presented)
        matched: bytes | None = None
        for known in self.digests:  # every one compared, a match or not: constant time
            if hmac.compare_digest(given, known):
                matched = known
        return None if matched is None else f"key:{matched.hex()[:8]}"
