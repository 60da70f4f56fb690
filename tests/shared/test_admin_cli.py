from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from scripts.processes import free_port
from shared import admin
from shared.admin import app
from shared.aws import SqsQueue
from shared.messages.dead_letter import Reason
from shared.ops.dead_letters import DeadLetters
from shared.settings import Settings, get_settings
from shared.topology.queues import QueuePair
from tests.shared.test_dlq import dead_letter, envelope, moved_by_sqs
from tests.support import ROOT, enqueue

runner = CliRunner()


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """The CLI configures the root logger onto the runner's stream; put it back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, queues: QueuePair) -> QueuePair:
    """The CLI reads the environment: point it at the moto queues, polling without waiting."""
    monkeypatch.setenv("SQS_WAIT_TIME_SECONDS", "0")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    return queues


@pytest.fixture
def dead_letters(settings: Settings, cli_env: QueuePair) -> DeadLetters:
    """Two dead letters: one the consumer recorded (envelope id `recorded-1`), one SQS moved."""
    recorded = envelope(1).model_copy(update={"id": "recorded-1"})
    dead_letter(cli_env, recorded, Reason.INVALID_PAYLOAD, "amount: Field required")
    moved_by_sqs(cli_env)
    return DeadLetters.from_settings(settings)


def total(dead_letters: DeadLetters) -> int:
    depth = dead_letters.depth()
    return depth.visible + depth.in_flight


def test_count(dead_letters: DeadLetters) -> None:
    result = runner.invoke(app, ["dlq", "count"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "messages-dlq: 2 messages waiting, 0 in flight"
    as_json = runner.invoke(app, ["dlq", "count", "--json"])
    assert json.loads(as_json.stdout) == {"queue": "messages-dlq", "visible": 2, "in_flight": 0}


def cells(line: str) -> list[str]:
    return re.split(r" {2,}", line.strip())


def test_peek_shows_a_table_with_reasons_and_errors(dead_letters: DeadLetters) -> None:
    result = runner.invoke(app, ["dlq", "peek"])

    assert result.exit_code == 0, result.output
    header, *rows = (cells(line) for line in result.stdout.strip().splitlines())
    assert header == [
        "ID", "SQS MESSAGE ID", "TYPE", "FORMAT", "REASON", "RECEIVES", "SENT", "FAILED", "ERROR"
    ]  # fmt: skip
    table = {row[4]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(table) == {"invalid_payload", "moved_by_sqs"}
    recorded = table["invalid_payload"]
    assert recorded["ID"] == "recorded-1"  # the id the logs and the status API show
    assert recorded["FORMAT"] == "envelope"
    assert re.fullmatch(r"[0-9a-f-]{36}", recorded["SQS MESSAGE ID"])
    assert (recorded["TYPE"], recorded["RECEIVES"]) == ("order.created", "3")
    assert recorded["ERROR"] == "amount: Field required"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", recorded["FAILED"])
    moved = table["moved_by_sqs"]
    assert (moved["TYPE"], moved["RECEIVES"], moved["FAILED"], moved["ERROR"]) == ("-",) * 4
    assert moved["SENT"] != "-"
    assert total(dead_letters) == 2


def test_peek_json_and_limit(dead_letters: DeadLetters) -> None:
    result = runner.invoke(app, ["dlq", "peek", "--json"])
    assert result.exit_code == 0, result.output
    letters = json.loads(result.stdout)
    assert sorted(letter["reason"] for letter in letters) == ["invalid_payload", "moved_by_sqs"]
    assert {letter["error"] for letter in letters} == {"amount: Field required", None}

    one = runner.invoke(app, ["dlq", "peek", "--json", "--limit", "1"])
    assert len(json.loads(one.stdout)) == 1
    assert runner.invoke(app, ["dlq", "peek", "--limit", "0"]).exit_code == 2


def test_peek_an_empty_queue(cli_env: QueuePair) -> None:
    result = runner.invoke(app, ["dlq", "peek"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "messages-dlq is empty"


def test_redrive_moves_everything_back(dead_letters: DeadLetters, settings: Settings) -> None:
    result = runner.invoke(app, ["dlq", "redrive"])

    assert result.exit_code == 0, result.output
    note, summary = result.stdout.strip().splitlines()
    assert note.startswith("note: StartMessageMoveTask not supported")
    assert (
        summary
        == "moved 2 messages from messages-dlq to messages; 0 failed and stay in messages-dlq"
    )
    assert total(dead_letters) == 0
    source = SqsQueue.from_settings(settings)
    assert len(source.receive(max_messages=10, wait_time_seconds=0)) == 2


def test_redrive_max_without_native(dead_letters: DeadLetters) -> None:
    result = runner.invoke(app, ["dlq", "redrive", "--max", "1", "--no-native"])

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "moved 1 messages from messages-dlq to messages; 0 failed and stay in messages-dlq"
    )
    assert total(dead_letters) == 1


def test_purge_refuses_without_a_terminal(dead_letters: DeadLetters) -> None:
    result = runner.invoke(app, ["dlq", "purge"], input="messages-dlq\n")
    assert result.exit_code == 1
    assert "stdin is not a terminal; pass --yes" in result.stderr
    assert total(dead_letters) == 2


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("messages\n", "'messages' is not 'messages-dlq'; nothing purged"),
        ("\n", "'' is not 'messages-dlq'; nothing purged"),
        ("", "no confirmation given; nothing purged"),  # EOF
    ],
)
def test_purge_refuses_a_wrong_or_missing_name(
    dead_letters: DeadLetters, monkeypatch: pytest.MonkeyPatch, typed: str, message: str
) -> None:
    monkeypatch.setattr(admin, "stdin_is_interactive", lambda: True)
    result = runner.invoke(app, ["dlq", "purge"], input=typed)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert total(dead_letters) == 2


def test_purge_after_typing_the_name(
    dead_letters: DeadLetters, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    enqueue(SqsQueue.from_settings(settings), envelope(9))
    monkeypatch.setattr(admin, "stdin_is_interactive", lambda: True)

    result = runner.invoke(app, ["dlq", "purge"], input="messages-dlq\n")

    assert result.exit_code == 0, result.output
    assert "messages-dlq holds about 2 messages." in result.stdout
    assert result.stdout.strip().endswith("purged messages-dlq")
    assert total(dead_letters) == 0
    source = SqsQueue.from_settings(settings).attributes("ApproximateNumberOfMessages")
    assert source == {"ApproximateNumberOfMessages": "1"}


def test_purge_with_yes(dead_letters: DeadLetters) -> None:
    result = runner.invoke(app, ["dlq", "purge", "--yes"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "purged messages-dlq"
    assert total(dead_letters) == 0


@pytest.mark.parametrize(
    "command", [["count"], ["peek"], ["redrive"], ["purge", "--yes"]], ids=lambda c: c[0]
)
def test_endpoint_down_is_a_clean_error(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("SQS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("SQS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("SQS_CONNECT_TIMEOUT", "0.5")
    get_settings.cache_clear()

    result = runner.invoke(app, ["dlq", *command])

    assert result.exit_code == 1
    assert result.stderr.startswith("error: messages-dlq: SQS unreachable: Could not connect")
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit), result.exception


def test_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared.admin", "dlq", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for command in ("count", "peek", "redrive", "purge"):
        assert command in result.stdout
