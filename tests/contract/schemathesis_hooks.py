"""A check schemathesis runs beside its own: every refusal the producer gives is small."""

from __future__ import annotations

from typing import Any

import schemathesis

MAX_REFUSAL_BYTES = 4096
"""What docs/api.md promises: a refusal is a few lines of JSON, never an echo of the input."""


@schemathesis.check
def refusals_stay_small(ctx: Any, response: Any, case: Any) -> None:
    """A 4xx answer of at most 4 KiB, whatever was sent."""
    if 400 <= response.status_code < 500 and len(response.content) > MAX_REFUSAL_BYTES:
        raise AssertionError(
            f"a {response.status_code} of {len(response.content)} bytes; refusals stay within "
            f"{MAX_REFUSAL_BYTES}"
        )
