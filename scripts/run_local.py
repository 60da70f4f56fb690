"""Run the whole system on one machine, no Docker, no AWS account: `make run`.

Run it as `python scripts/run_local.py` from anywhere, or `python -m scripts.run_local`.

Starts moto's server as a local SQS (and SNS) endpoint on localstack's port, creates the
queues and the topics of `TOPICS_FILE` (`topics.example.toml` unless set; empty for none),
then the producer and one consumer for the main queue and every subscribed queue, each a
real process with its output prefixed. The two share a status-event secret made for the run.
What another process needs to join the run (endpoint, dummy credentials, that secret, the
admin token, a free consumer port) is written to `.run/local.env` while it is up.
Ctrl-C (or SIGTERM) stops them in order, producer first and the endpoint last, so the
consumer can still acknowledge what it finishes. Any process that dies takes the rest down.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.processes import Child, free_port, wait_http_ok
from shared.settings import Settings, SqsSettings
from shared.topology.topics_file import load_topics

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_TOPICS = ROOT / "topics.example.toml"
ENV_FILE = ROOT / ".run" / "local.env"
JOINING_SETTINGS = (
    "SQS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "SQS_WAIT_TIME_SECONDS",
    "SQS_EVENTS_SECRET",
    "PRODUCER_ADMIN_TOKEN",
    "PRODUCER_STATUS_STORE",
    "TOPICS_FILE",
    "CONSUMER_QUEUES",
)
"""What a process started beside the run needs to reach the same queues and be believed."""
STOP_GRACE_SECONDS = 25.0
"""Running handlers get CONSUMER_SHUTDOWN_TIMEOUT_SECONDS (20 s by default) to finish."""


def stop(child: Child, grace: float) -> int | None:
    code = child.stop(grace=grace)
    if child.killed:
        print(f"[runner  ] {child.name} did not stop in {grace:.0f}s; killed it", flush=True)
    return code


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def child_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "SQS_ENDPOINT_URL": f"http://{args.host}:{args.sqs_port}",
            # moto accepts any credentials; fixed ones keep real keys away from it.
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
            "PRODUCER_HOST": args.host,
            "PRODUCER_PORT": str(args.producer_port),
            "CONSUMER_HOST": args.host,
            "CONSUMER_PORT": str(args.consumer_port),
            "CONSUMER_HANDLERS": env.get("CONSUMER_HANDLERS", "consumer.examples"),
            # Short polls locally: the producer's events reader waits one out when stopping.
            "SQS_WAIT_TIME_SECONDS": env.get("SQS_WAIT_TIME_SECONDS", "5"),
            # Producer and consumer share it for this run only: status events are signed
            # locally as they should be anywhere, and no secret is written down.
            "SQS_EVENTS_SECRET": env.get("SQS_EVENTS_SECRET") or secrets.token_hex(32),
            # So the dashboard's redrive works locally; printed with the banner.
            "PRODUCER_ADMIN_TOKEN": env.get("PRODUCER_ADMIN_TOKEN") or secrets.token_urlsafe(16),
            # Status in a DynamoDB table, as a fleet of producers needs it: a second producer
            # started beside the run answers for every message too.
            "PRODUCER_STATUS_STORE": env.get("PRODUCER_STATUS_STORE", "dynamodb"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    # The example topics unless told otherwise (TOPICS_FILE= turns them off); the children
    # run in the repository root, not here, so the path is made absolute.
    topics_file = env.get("TOPICS_FILE", str(EXAMPLE_TOPICS))
    env["TOPICS_FILE"] = str(Path(topics_file).resolve()) if topics_file else ""
    if "CONSUMER_QUEUES" not in env:
        env["CONSUMER_QUEUES"] = ",".join(consumed_queues(env))
    return env


def consumed_queues(env: dict[str, str]) -> list[str]:
    """The main queue and every queue subscribed to a declared topic: one consumer for all."""
    main = env.get("SQS_QUEUE_NAME", SqsSettings().queue_name)
    if not env["TOPICS_FILE"]:
        return [main]
    declared = load_topics(Settings(_env_file=None, topics={"file": env["TOPICS_FILE"]}))
    subscribed = [s.queue for topic in declared.topics for s in topic.subscriptions]
    return list(dict.fromkeys([main, *subscribed]))


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """The settings a second consumer (or `sqs-admin`) needs to join this run, as shell
    assignments, with a status port of its own."""
    lines = [f"{name}={shlex.quote(env[name])}" for name in JOINING_SETTINGS if name in env]
    lines.append(f"AWS_DEFAULT_REGION={shlex.quote(env['AWS_REGION'])}")  # the AWS CLI's name
    lines.append(f"CONSUMER_PORT={free_port()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by `make run` for as long as it runs: `set -a; . .run/local.env; set +a`\n"
        + "\n".join(lines)
        + "\n",
        encoding="utf-8",
    )
    path.chmod(0o600)


def banner(args: argparse.Namespace, env: dict[str, str]) -> str:
    producer = f"http://{args.host}:{args.producer_port}"
    topics = ""
    if env.get("TOPICS_FILE"):
        topics = f"""
  Topics from {env["TOPICS_FILE"]}:
    curl -s {producer}/topics
    curl -i -X POST {producer}/topics/<topic>/messages -H 'Content-Type: application/json' \\
      -d '{{"type": "order.created", "payload": {{"order_id": "A-1", "region": "eu"}}}}'
"""
    return f"""
  local SQS (moto)  http://{args.host}:{args.sqs_port}
  producer          {producer}   (API docs: {producer}/docs)
  dashboard         {producer}/
  consumer status   http://{args.host}:{args.consumer_port}/healthz  and  /metrics
  handlers          {env["CONSUMER_HANDLERS"]}   (yours: CONSUMER_HANDLERS=myapp.handlers make run)
  admin token       {env["PRODUCER_ADMIN_TOKEN"]}   (the dashboard's redrive asks for it)
  to join this run  set -a; . {display(args.env_file)}; set +a   then  python -m consumer

  Try:
    curl -i -X POST {producer}/messages -H 'Content-Type: application/json' \\
      -d '{{"type": "order.created", "payload": {{"order_id": "A-1", "amount": 9.5}}}}'
{topics}
  Ctrl-C stops everything.
"""


def display(path: Path) -> str:
    """`path` as short as it reads from the repository's root."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run moto's SQS, producer and consumer locally.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--sqs-port", type=int, default=4566)
    parser.add_argument("--producer-port", type=int, default=8000)
    parser.add_argument("--consumer-port", type=int, default=8001)
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    parser.add_argument(
        "--env-file", type=Path, default=ENV_FILE, help="where to write the joining settings"
    )
    return parser.parse_args(argv)


def launch(args: argparse.Namespace, env: dict[str, str], children: list[Child]) -> None:
    """Start the endpoint, create queues, start both services; raises if any step fails."""
    endpoint = env["SQS_ENDPOINT_URL"]
    children.append(
        Child("sqs", ["-m", "scripts.moto_server", "-H", args.host, "-p", str(args.sqs_port)], env)
    )
    wait_http_ok(f"{endpoint}/moto-api/data.json", children, args.startup_timeout)
    bootstrap = subprocess.run(
        [sys.executable, "-m", "shared.bootstrap", "--wait", "10"],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if bootstrap.returncode != 0:
        raise RuntimeError(f"bootstrap failed:\n{bootstrap.stderr}")
    children.append(Child("consumer", ["-m", "consumer"], env))
    children.append(Child("producer", ["-m", "producer"], env))
    wait_http_ok(f"http://{args.host}:{args.producer_port}/readyz", children, args.startup_timeout)
    wait_http_ok(f"http://{args.host}:{args.consumer_port}/healthz", children, args.startup_timeout)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ports = {"SQS": args.sqs_port, "producer": args.producer_port, "consumer": args.consumer_port}
    busy = [f"{name} port {port}" for name, port in ports.items() if not port_free(args.host, port)]
    if busy:
        print(f"cannot start: {', '.join(busy)} already in use on {args.host}", file=sys.stderr)
        return 2
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    children: list[Child] = []
    status = 0
    try:
        env = child_env(args)
        launch(args, env, children)
        write_env_file(args.env_file, env)
        print(banner(args, env), flush=True)
        while not stopping.wait(0.5):
            dead = [c for c in children if not c.alive()]
            if dead:
                names = ", ".join(f"{c.name} (exit {c.process.returncode})" for c in dead)
                print(f"[runner  ] {names} stopped unexpectedly; shutting down", flush=True)
                status = 1
                break
    except RuntimeError as exc:
        print(f"[runner  ] {exc}", file=sys.stderr, flush=True)
        status = 1
    finally:
        print("[runner  ] stopping…", flush=True)
        for child in reversed(children):  # producer, consumer, then the endpoint
            stop(child, STOP_GRACE_SECONDS)
        args.env_file.unlink(missing_ok=True)
        print("[runner  ] all processes stopped", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
