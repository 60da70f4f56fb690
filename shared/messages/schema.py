"""The envelope's wire format as a JSON Schema, so producers in other languages can write it.

`python -m shared.messages.schema` prints it; `docs/envelope.schema.json` is that output, and
a test keeps the two equal. It describes what the consumer accepts: only `type` and
`payload` are required, the other fields have defaults.
"""

from __future__ import annotations

import json
from typing import Any

from shared.messages.envelope import Envelope


def envelope_schema() -> dict[str, Any]:
    schema = Envelope.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Envelope",
        "description": (
            "The SQS message body our producer writes and the consumer reads: a routing "
            "type, a JSON object payload and the fields that trace it."
        ),
        **{key: value for key, value in schema.items() if key not in ("title", "description")},
    }


def render() -> str:
    return json.dumps(envelope_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
