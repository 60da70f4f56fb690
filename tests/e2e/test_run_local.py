"""`make run`'s script as a user runs it: everything comes up, a message flows, Ctrl-C cleans up."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from scripts.processes import free_port
from tests.docs.snippets import python_project
from tests.e2e.feeds import FeedWatcher, subscribed_name, wait_all_done
from tests.support import ROOT, http_status, post_json, service_env, shell_env, wait_for

pytestmark = pytest.mark.e2e


def get_json(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError:
        return {}
    return answer


def children_of(pid: int) -> set[int]:
    """Every live descendant of `pid`, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def admin(env_file: Path, *args: str) -> str:
    """`sqs-admin` as the delivery guide runs it beside `make run`."""
    command = " ".join(
        shlex.quote(a) for a in [str(Path(sys.executable).parent / "sqs-admin"), *args]
    )
    script = f"set -a; . {shlex.quote(str(env_file))}; set +a; {command}"
    env = shell_env()
    ran = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran.stdout


def redrive_a_poison_message_once(env_file: Path, producer: str) -> None:
    """A message whose handler refuses it for good, redriven with the consumer running: it
    goes round once, and the redrive ends."""
    status, _ = post_json(
        f"{producer}/messages",
        {"type": "order.created", "payload": {"order_id": "X-1", "amount": 1, "currency": "XYZ"}},
    )
    assert status == 202

    def dead_letters() -> int:
        return int(json.loads(admin(env_file, "dlq", "count", "--json"))["visible"])

    wait_for(lambda: dead_letters() == 1, timeout=20, what="the poison message dead-lettered")
    moved = admin(env_file, "dlq", "redrive")
    assert "moved 1 messages" in moved, moved
    wait_for(lambda: dead_letters() == 1, timeout=20, what="it died again, once")


def send_with_the_aws_cli(env_file: Path) -> None:
    """Raw JSON routed by a `type` attribute, sent as a script beside `make run` would."""
    aws = shlex.quote(str(Path(sys.executable).parent / "aws"))
    script = (
        f"set -a; . {shlex.quote(str(env_file))}; set +a; "
        f"url=$({aws} --endpoint-url $SQS_ENDPOINT_URL sqs get-queue-url --queue-name messages"
        " --query QueueUrl --output text); "
        f"{aws} --endpoint-url $SQS_ENDPOINT_URL sqs send-message --queue-url $url"
        """ --message-body '{"order_id": "CLI-1", "amount": 3}'"""
        """ --message-attributes '{"type": {"DataType": "String","""
        """ "StringValue": "order.created"}}'"""
    )
    env = shell_env()
    sent = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert sent.returncode == 0, sent.stderr


def join_with_the_docs_handlers(env_file: Path, producer: str, tmp_path: Path) -> list[str]:
    """Start a consumer as the handler guide says, with the settings the run wrote and the
    docs' `myapp.handlers`; send orders until it has handled some; stop it. Returns the ids
    it handled."""
    project = tmp_path / "project"
    for path, text in python_project().items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text, encoding="utf-8")
    script = (
        f"set -a; . {shlex.quote(str(env_file))}; set +a; "
        f"CONSUMER_HANDLERS=myapp.handlers exec {shlex.quote(sys.executable)} -m consumer"
    )
    log_path = tmp_path / "joined.log"
    env = shell_env()
    with log_path.open("w") as log:
        joined = subprocess.Popen(
            ["bash", "-c", script],
            cwd=project,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**env, "PYTHONPATH": f"{project}:{ROOT}"},
        )
        try:
            wait_for(
                lambda: "consumer up" in log_path.read_text(),
                timeout=30,
                what=f"the joined consumer up\n{log_path.read_text()}",
            )
            sent: dict[str, str] = {}  # order id -> envelope id

            def handled_one() -> bool:
                order = f"J-{len(sent)}"
                status, body = post_json(
                    f"{producer}/messages",
                    {"type": "order.created", "payload": {"order_id": order, "amount": 2.0}},
                )
                assert status == 202
                sent[order] = body["id"]
                return "charged 2.0 for order J-" in log_path.read_text()

            wait_for(handled_one, timeout=30, interval=0.5, what="the joined consumer handling")
        finally:
            joined.send_signal(signal.SIGTERM)
            assert joined.wait(30) == 0, log_path.read_text()
    output = log_path.read_text()
    return [id_ for order, id_ in sent.items() if f"charged 2.0 for order {order}\n" in output]


def each_feed_shows_what_the_other_was_sent(first: str, second: str) -> None:
    """Five messages through each replica: both live feeds show all ten done."""
    watchers = [FeedWatcher(first), FeedWatcher(second)]
    try:
        for watcher in watchers:
            subscribed_name(watcher)
        sent = set()
        for url in (first, second):
            for n in range(5):
                order = {"order_id": f"F-{n}", "amount": 1.0}
                status, body = post_json(
                    f"{url}/messages", {"type": "order.created", "payload": order}
                )
                assert status == 202
                sent.add(str(body["id"]))
        wait_all_done(watchers, sent)
    finally:
        for watcher in watchers:
            watcher.close()


def join_a_second_producer(env_file: Path, first: str, earlier: list[str], tmp_path: Path) -> None:
    """Start a second producer as an operator adds a replica (the run's settings, its own
    port): it answers `done` for messages sent through the first, and the first for one sent
    through it."""
    port = free_port()
    script = (
        f"set -a; . {shlex.quote(str(env_file))}; set +a; "
        f"PRODUCER_PORT={port} exec {shlex.quote(sys.executable)} -m producer"
    )
    log_path = tmp_path / "second-producer.log"
    with log_path.open("w") as log:
        second = subprocess.Popen(
            ["bash", "-c", script], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=shell_env()
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(
                lambda: http_status(f"{url}/readyz") == 200,
                timeout=30,
                what=f"the second producer ready\n{log_path.read_text()}",
            )
            assert [get_json(f"{url}/messages/{sent}").get("stage") for sent in earlier] == [
                "done"
            ] * len(earlier)
            status, body = post_json(
                f"{url}/messages",
                {"type": "order.created", "payload": {"order_id": "R-2", "amount": 1.0}},
            )
            assert status == 202
            wait_for(
                lambda: get_json(f"{first}/messages/{body['id']}").get("stage") == "done",
                timeout=20,
                what="a message sent through the second producer done at the first",
            )
            each_feed_shows_what_the_other_was_sent(first, url)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0, log_path.read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_run_local_brings_everything_up_and_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("sqs", "producer", "consumer")}
    log_path = tmp_path / "run.log"
    env_file = tmp_path / "local.env"
    with log_path.open("w") as log:
        runner = subprocess.Popen(
            [
                sys.executable,
                "scripts/run_local.py",
                f"--sqs-port={ports['sqs']}",
                f"--producer-port={ports['producer']}",
                f"--consumer-port={ports['consumer']}",
                f"--env-file={env_file}",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SQS_WAIT_TIME_SECONDS": "2"},
        )
        try:
            producer = f"http://127.0.0.1:{ports['producer']}"
            wait_for(
                lambda: "Ctrl-C stops everything" in log_path.read_text(),
                timeout=60,
                what="the runner's banner",
            )
            assert http_status(f"{producer}/readyz") == 200
            status, body = post_json(
                f"{producer}/messages",
                {"type": "order.created", "payload": {"order_id": "A-1", "amount": 9.5}},
            )
            assert status == 202
            metrics = f"http://127.0.0.1:{ports['consumer']}/metrics"

            def deleted() -> bool:
                with urllib.request.urlopen(metrics, timeout=5) as response:
                    return "sqs_messages_deleted_total 1.0" in response.read().decode()

            wait_for(deleted, timeout=20, what="the message handled and deleted")
            assert f"message {body['id']}" in log_path.read_text()
            # Its status came through: the consumer signed, the producer checked, one secret.
            wait_for(
                lambda: get_json(f"{producer}/messages/{body['id']}").get("stage") == "done",
                timeout=20,
                what="the message's status done at the producer",
            )
            spawned = children_of(runner.pid)
            assert len(spawned) >= 3  # endpoint, producer, consumer
            send_with_the_aws_cli(env_file)  # a foreign sender, with only the run's settings
            wait_for(
                lambda: "order 'CLI-1': 3.00 EUR" in log_path.read_text(),
                timeout=20,
                what="the AWS CLI's raw JSON handled by its type attribute",
            )
            redrive_a_poison_message_once(env_file, producer)
            joined_ids = join_with_the_docs_handlers(env_file, producer, tmp_path)
            assert joined_ids
            wait_for(  # the joined consumer's status events reached the producer, believed
                lambda: all(
                    get_json(f"{producer}/messages/{sent}").get("stage") == "done"
                    for sent in joined_ids
                ),
                timeout=20,
                what=f"the status of {joined_ids}, handled by the joined consumer",
            )
            join_a_second_producer(env_file, producer, [body["id"], *joined_ids], tmp_path)
        finally:
            runner.send_signal(signal.SIGINT)
            code = runner.wait(60)
    output = log_path.read_text()
    assert code == 0, output
    assert "all processes stopped" in output
    assert "NotImplementedError" not in output  # moto's traceback for the move task is quiet
    assert not env_file.exists()  # it names a run that is gone
    assert "status events are unsigned" not in output
    assert "dropped body" not in output  # none was taken for forged
    wait_for(lambda: not any(alive(pid) for pid in spawned), timeout=10, what="no process left")
    assert all(http_status(f"http://127.0.0.1:{port}/") is None for port in ports.values())


@contextmanager
def busy_port() -> Iterator[int]:
    """A port something listens on for as long as the block runs."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


def test_run_local_refuses_a_busy_port(tmp_path: Path) -> None:
    with busy_port() as port:
        result = subprocess.run(
            [sys.executable, "scripts/run_local.py", f"--producer-port={port}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    assert f"producer port {port} already in use" in result.stderr


def test_a_consumer_on_a_busy_status_port_says_so_in_one_line(moto_endpoint: str) -> None:
    with busy_port() as port:
        result = subprocess.run(
            [sys.executable, "-m", "consumer"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=service_env(moto_endpoint, CONSUMER_PORT=str(port)),
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    assert "CONSUMER_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_local_passes_a_relative_topics_file_through(tmp_path: Path) -> None:
    """Run from elsewhere with the example file: its topics exist and take a publish."""
    ports = {name: free_port() for name in ("sqs", "producer", "consumer")}
    log_path = tmp_path / "run.log"
    example = os.path.relpath(ROOT / "topics.example.toml", tmp_path)
    with log_path.open("w") as log:
        runner = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "scripts" / "run_local.py"),
                f"--sqs-port={ports['sqs']}",
                f"--producer-port={ports['producer']}",
                f"--consumer-port={ports['consumer']}",
            ],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SQS_WAIT_TIME_SECONDS": "2", "TOPICS_FILE": example},
        )
        try:
            wait_for(
                lambda: "Ctrl-C stops everything" in log_path.read_text(),
                timeout=60,
                what=f"the runner's banner\n{log_path.read_text()}",
            )
            assert "/topics/<topic>/messages" in log_path.read_text()
            status, body = post_json(
                f"http://127.0.0.1:{ports['producer']}/topics/orders/messages",
                {"type": "order.created", "payload": {"region": "eu", "amount": 120}},
            )
            assert status == 202, body
        finally:
            runner.send_signal(signal.SIGINT)
            code = runner.wait(60)
    assert code == 0, log_path.read_text()
