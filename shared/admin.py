"""Operator commands for the dead-letter queue: `sqs-admin dlq count|peek|redrive|purge`.

Also runnable as `python -m shared.admin`. Settings come from the environment like the
services'. Every SQS failure ends in a one-line message and exit code 1, never a traceback,
because an operator at 3 a.m. needs to know what failed, not where.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError

from shared.aws import AwsError
from shared.logging import configure_logging
from shared.messages.dead_letter import DeadLetter
from shared.ops.dead_letters import DeadLetters
from shared.ops.redrive import RedriveResult
from shared.settings import get_settings

app = typer.Typer(
    help="Operate the SQS queues of the producer and consumer.",
    no_args_is_help=True,
    add_completion=False,
)
dlq_app = typer.Typer(
    help="The dead-letter queue: count, peek, redrive, purge.", no_args_is_help=True
)
app.add_typer(dlq_app, name="dlq")

ERROR_WIDTH = 60
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def stdin_is_interactive() -> bool:
    """Whether someone can type a confirmation; a pipe or a closed stdin cannot."""
    return sys.stdin.isatty()


@contextmanager
def dead_letters() -> Iterator[DeadLetters]:
    """The DLQ from the environment's settings; SqsErrors become a message and exit 1."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        fail(f"invalid settings:\n{exc}")
    configure_logging(settings.log_level, settings.log_format, "admin")
    try:
        yield DeadLetters.from_settings(settings)
    except AwsError as exc:
        fail(f"{settings.sqs.dlq_name}: {exc}")


@dlq_app.command("count")
def count_messages(as_json: JsonOption = False) -> None:
    """How many messages the dead-letter queue holds (SQS's approximate counts)."""
    with dead_letters() as dlq:
        depth = dlq.depth()
    if as_json:
        typer.echo(
            json.dumps({"queue": dlq.name, "visible": depth.visible, "in_flight": depth.in_flight})
        )
    else:
        typer.echo(f"{dlq.name}: {depth.visible} messages waiting, {depth.in_flight} in flight")


@dlq_app.command("peek")
def peek_messages(
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=100, help="At most this many.")
    ] = 10,
    as_json: JsonOption = False,
) -> None:
    """Show dead letters and why they died, without taking them off the queue."""
    with dead_letters() as dlq:
        letters = dlq.peek(limit)
    if as_json:
        typer.echo(json.dumps([letter.model_dump(mode="json") for letter in letters], indent=2))
    elif not letters:
        typer.echo(f"{dlq.name} is empty")
    else:
        typer.echo(render_table(letters))


@dlq_app.command("redrive")
def redrive_messages(
    max_messages: Annotated[
        int | None, typer.Option("--max", min=1, help="Move at most this many (move loop).")
    ] = None,
    native: Annotated[
        bool,
        typer.Option(
            "--native/--no-native", help="Try SQS's StartMessageMoveTask before the move loop."
        ),
    ] = True,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=1, help="Seconds the move loop may run.")
    ] = 300.0,
) -> None:
    """Send dead letters back to the source queue; exit 1 if some could not be sent."""
    with dead_letters() as dlq:
        result = dlq.redrive(max_messages, native=native, time_limit=time_limit)
    typer.echo(describe_redrive(result, dlq.name, dlq.source.name))
    if result.failed:
        raise typer.Exit(1)


@dlq_app.command("purge")
def purge_messages(
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask; for scripts that mean it.")
    ] = False,
) -> None:
    """Delete every message in the dead-letter queue (the source queue is not touched)."""
    with dead_letters() as dlq:
        if not yes:
            confirm_purge(dlq)
        dlq.purge()
    typer.echo(f"purged {dlq.name}")


def confirm_purge(dlq: DeadLetters) -> None:
    """Make the operator type the queue's name, so a purge is never one stray Enter away."""
    if not stdin_is_interactive():
        fail("refusing to purge without confirmation: stdin is not a terminal; pass --yes")
    depth = dlq.depth()
    typer.echo(f"{dlq.name} holds about {depth.visible + depth.in_flight} messages.")
    try:
        typed = typer.prompt(f"Type {dlq.name!r} to delete them all", default="")
    except typer.Abort:  # EOF or Ctrl-C at the prompt
        fail("no confirmation given; nothing purged")
    if typed.strip() != dlq.name:
        fail(f"{typed.strip()!r} is not {dlq.name!r}; nothing purged")


def describe_redrive(result: RedriveResult, dlq_name: str, source_name: str) -> str:
    if result.method == "native":
        return (
            f"started SQS move task {result.task_handle}: {dlq_name} -> {source_name}; "
            "SQS moves the messages in the background"
        )
    lines = []
    if result.fallback_reason:
        lines.append(f"note: {result.fallback_reason}")
    lines.append(
        f"moved {result.moved} messages from {dlq_name} to {source_name}; "
        f"{result.failed} failed and stay in {dlq_name}"
    )
    if result.duplicates:
        lines.append(f"{result.duplicates} were sent but not deleted: they will come again")
    if result.stopped in ("time-limit", "batch-limit"):
        lines.append(f"stopped at the {result.stopped}; run again to move the rest")
    return "\n".join(lines)


def render_table(letters: Sequence[DeadLetter]) -> str:
    """A plain-text table: fixed columns, the error cut to fit a terminal line. It leads
    with the envelope id, the one the logs, the status API and the dashboard show; the dead
    letter's own SQS id (not the original's: the copy got a new one) stands beside it."""
    headers = (
        "ID", "SQS MESSAGE ID", "TYPE", "FORMAT", "REASON", "RECEIVES", "SENT", "FAILED", "ERROR"
    )  # fmt: skip
    rows = [
        (
            letter.envelope_id or "-",
            letter.message_id,
            letter.type or "-",
            letter.format or "-",
            str(letter.reason),
            str(letter.receive_count) if letter.receive_count is not None else "-",
            _time(letter.sent_at),
            _time(letter.failed_at),
            _cut(letter.error or "-", ERROR_WIDTH),
        )
        for letter in letters
    ]
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (headers, *rows)
    )


def _time(moment: datetime | None) -> str:
    """UTC to the second: enough to match a dead letter with the logs."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


if __name__ == "__main__":
    app(prog_name="sqs-admin")
