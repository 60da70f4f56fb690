"""One log format for every process: text for a person at a terminal, JSON for a fleet.

Every message is one line. In text, control characters in it (a newline in an id a client
sent, an escape sequence in a topic name) are written escaped, so no value from outside can
forge a log line or repaint a terminal; a traceback, which is ours, keeps its lines. In JSON
(`LOG_FORMAT=json`), each line is one object: time, level, logger, service, message, the ids
bound for the message or request at hand (`shared.log_context`), whatever a call passed as
`extra`, and the traceback as one string. JSON escapes every control character itself.

The JSON formatter is the standard library's `json` over the record: a dozen lines, no
dependency, and nothing a library would add that a log pipeline needs.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from typing_extensions import override

from shared import log_context

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with each control character written as its escape: `\\n`, `\\x1b`, `\\u2028`."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


class OneLineFormatter(logging.Formatter):
    """The standard formatter, with the message (not the traceback) escaped to one line."""

    @override
    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)


_RECORD_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)
"""What every record has; anything else on one came from a call's `extra`."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service

    @override
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        if self.service:
            line["service"] = self.service
        line["message"] = record.getMessage()
        line |= log_context.current()
        line |= {k: v for k, v in record.__dict__.items() if k not in _RECORD_FIELDS}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)  # non-ASCII escaped: no C1 control reaches a terminal


def configure_logging(
    level: str = "INFO", log_format: Literal["text", "json"] = "text", service: str | None = None
) -> None:
    """Log to stderr at `level`, in `log_format`; botocore's chatter stays at WARNING.
    `service` names the process in each JSON line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(service) if log_format == "json" else OneLineFormatter(FORMAT)
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
