"""One log format for every process, so the local run's interleaved output stays readable.

Every message is one line: control characters in it (a newline in an id a client sent, an
escape sequence in a topic name) are written escaped, so no value from outside can forge a
log line or repaint a terminal. A traceback, which is ours, keeps its lines.
"""

from __future__ import annotations

import logging
import re
import sys

from typing_extensions import override

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


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr at `level`; botocore's chatter stays at WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
