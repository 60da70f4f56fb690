"""JSON as SQS and the consumer can carry it: one parser, one nesting limit, one character set.

The standard library's parser takes `NaN`, `Infinity`, `1e400` (as infinity) and lone
surrogates, none of which survive the trip: JSON has no non-finite numbers (they arrive as
`null`), SQS refuses characters outside its set, and the consumer's parser (pydantic-core,
as here) refuses what is nested deeper than it recurses. Whatever passes `parse_strict` the
consumer reads back unchanged.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic_core import from_json

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects a body may have, its own object counted. The
consumer's parser reads up to 200 levels, so everything the producer accepts stays readable."""

SQS_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters SQS refuses in a body or an attribute value (its allowed set is #x9 #xA #xD
#x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF)."""

SQS_ALLOWED_PATTERN = "^[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$"
"""The same set as a whole-string pattern, for field constraints and the OpenAPI schema."""

HEADER_SAFE_PATTERN = "^[\x20-\x7e]*$"
"""Printable ASCII: for ids that are echoed as HTTP headers (which carry only Latin-1) and
written to logs (where a newline would forge a line)."""

_MAY_BE_NON_FINITE = re.compile(rb"[eE][+]?[0-9]{3}|[0-9]{300}")
"""A float literal can overflow to infinity only with a 3-digit exponent or 300+ digits."""
_MAY_HOLD_NONCHARACTER = re.compile(rb"\xef\xbf[\xbe\xbf]|\\u[fF]{3}[eEfF]")
"""U+FFFE and U+FFFF (raw or escaped): inside the JSON character set, outside SQS's. The
other characters SQS refuses are control characters, which the body carries escaped."""
_NONCHARACTER = re.compile("[\ufffe\uffff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class JsonRefusedError(ValueError):
    """The text is not JSON that SQS and the consumer can carry; the message says why."""


def parse_strict(data: bytes | str) -> Any:
    """Parse JSON, refusing what would change or be refused on its way to the handler.

    The common body costs one parse: the value walk runs only when a cheap scan of the
    raw text says a limit could be crossed.
    """
    raw = data.encode() if isinstance(data, str) else data
    try:
        value = from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        raise JsonRefusedError(_explain(str(exc), raw)) from None
    deep = raw.count(b"[") + raw.count(b"{") > MAX_DEPTH
    if deep or _MAY_BE_NON_FINITE.search(raw) or _MAY_HOLD_NONCHARACTER.search(raw):
        _walk(value)
    return value


def forbidden_character(text: str) -> str | None:
    """The first character SQS refuses in `text`, described, or None."""
    found = SQS_FORBIDDEN.search(text)
    if found is None:
        return None
    return f"character U+{ord(found.group()):04X} at position {found.start()}"


def _explain(reason: str, raw: bytes) -> str:
    if "recursion limit" in reason:
        return f"malformed JSON: nested deeper than {MAX_DEPTH} levels"
    if b"NaN" in raw or b"Infinity" in raw:
        return f"malformed JSON: {reason} (JSON has no NaN or Infinity)"
    if "surrogate" in reason or ("hex escape" in reason and _SURROGATE_ESCAPE.search(raw)):
        return f"malformed JSON: {reason} (a lone UTF-16 surrogate is no character)"
    return f"malformed JSON: {reason}"


def _walk(value: Any) -> None:
    """Refuse nesting beyond MAX_DEPTH, non-finite numbers and characters SQS refuses."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise JsonRefusedError(f"malformed JSON: nested deeper than {MAX_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, float) and not math.isfinite(item):
            raise JsonRefusedError("a number is too large for JSON to carry (it would be infinity)")
        elif isinstance(item, str) and (found := _NONCHARACTER.search(item)):
            raise JsonRefusedError(
                f"a string holds U+{ord(found.group()):04X}, a character SQS cannot carry"
            )
