"""`python -m bench.io_model` (`make bench-io`): choose the services' I/O model by measurement.

The same workload (see bench/io_workloads.py) runs as K threads over one boto3 client and as
K asyncio tasks over one aiobotocore client, against moto behind the 20 ms delaying proxy that
`python -m bench` uses, both in the same run and at each K in turn. Locally the endpoint is
the bottleneck, so requests per second mostly measure moto; the client's own CPU per request
(this process's `time.process_time()`: moto and the proxy are other processes) is the figure
that tells the models apart. Everything it starts runs on 127.0.0.1 and stops when it ends;
every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import importlib.util
import os
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from bench.endpoint import new_queue_name, probe_round_trip, settings_for, start_moto
from bench.environment import child_env, use_own_env
from bench.io_report import Clock, Window, render
from bench.io_workloads import aio_client, task_round, thread_round, threads_client
from bench.proxy import start_proxy
from scripts.processes import HOST
from shared.aws.clients import build_client

if TYPE_CHECKING:
    from shared.settings import Settings

AIOBOTOCORE = "aiobotocore==3.10.0"
"""The newest aiobotocore; it pins botocore to 1.43.115-1.43.117, older than our lock."""
HINT = f"uv run --frozen --with {AIOBOTOCORE} --with boto3==1.43.117 python -m bench.io_model"
"""boto3 is pinned too so that it matches the botocore aiobotocore brings: both models then
run on the same botocore, and the run compares I/O models, not botocore versions."""
OUR_POOL = 32
"""`max_pool_connections` in shared/aws.py."""
PACKAGES = ("boto3", "botocore", "urllib3", "aiobotocore", "aiohttp")


def measure_threads(
    settings: Settings, urls: Sequence[str], seconds: float, warmup: float
) -> Window:
    client = threads_client(settings, max(OUR_POOL, len(urls)))
    try:
        with ThreadPoolExecutor(len(urls), thread_name_prefix="io-threads") as pool:
            thread_round(pool, client, urls, warmup)  # threads started, connections open
            clock = Clock()
            return clock.window("threads", len(urls), thread_round(pool, client, urls, seconds))
    finally:
        client.close()


async def _measure_tasks(
    settings: Settings, urls: Sequence[str], seconds: float, warmup: float
) -> Window:
    async with aio_client(settings, max(OUR_POOL, len(urls))) as client:
        await task_round(client, urls, warmup)  # connections open
        clock = Clock()
        return clock.window("asyncio", len(urls), await task_round(client, urls, seconds))


def measure_tasks(settings: Settings, urls: Sequence[str], seconds: float, warmup: float) -> Window:
    return asyncio.run(_measure_tasks(settings, urls, seconds, warmup))


def make_queues(settings: Settings, count: int) -> list[str]:
    """One queue per worker; they outlive the run only as long as moto does."""
    client = build_client("sqs", settings)
    prefix = new_queue_name("io")
    return [client.create_queue(QueueName=f"{prefix}-{n}")["QueueUrl"] for n in range(count)]


def measure_all(sqs_url: str, args: argparse.Namespace) -> list[Window]:
    """Both models at each K, `args.repeats` times, back to back; the order alternates
    (threads, asyncio, asyncio, threads, ...) so that drift in the machine's load, which
    other work on it causes, falls on both models alike."""
    settings = settings_for(sqs_url, new_queue_name("io"), 1)
    queues = make_queues(settings, max(args.workers))
    models = (measure_threads, measure_tasks)
    windows = []
    for index, k in enumerate(args.workers):
        for repeat in range(args.repeats):
            for measure in models if (index + repeat) % 2 == 0 else reversed(models):
                window = measure(settings, queues[:k], args.seconds, args.warmup)
                windows.append(window)
                print(f"   {window.summary()}", flush=True)
    return windows


def versions() -> str:
    found = []
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    return ", ".join(found)


def _workers(text: str) -> list[int]:
    try:
        return [int(k) for k in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K values like 1,4,16, got {text!r}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.io_model",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--workers",
        type=_workers,
        default="1,4,16,64",
        help="the K values: concurrent threads or tasks",
    )
    add("--seconds", type=float, default=5.0, help="measured time per model, K and repeat")
    add("--warmup", type=float, default=1.0, help="unmeasured time first (connections open)")
    add("--repeats", type=int, default=2, help="measurements per model and K, order alternating")
    add("--delay-ms", type=float, default=20.0, help="proxy delay per request; 0: moto directly")
    args = parser.parse_args(argv)
    if min(args.workers) < 1 or args.repeats < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("K and --repeats must be at least 1, --seconds positive, --warmup >= 0")
    return args


def run(args: argparse.Namespace, log_dir: Path) -> list[Window]:
    """Start moto (and the proxy, with a delay), measure, stop what was started."""
    env = child_env([])
    use_own_env(env)
    with contextlib.ExitStack() as stack:
        moto = start_moto(env, log_dir)
        stack.callback(moto.child.stop)
        sqs_url = moto.url
        if args.delay_ms > 0:
            proxy, port = start_proxy(moto.port, args.delay_ms, env, log_dir)
            stack.callback(proxy.stop)
            sqs_url = f"http://{HOST}:{port}"
        round_trip = probe_round_trip(sqs_url, 1)
        print(f"== {sqs_url} (moto +{args.delay_ms:g} ms): SendMessage {round_trip * 1000:.1f} ms")
        return measure_all(sqs_url, args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("aiobotocore") is None:
        print(f"aiobotocore is not installed (no project dependency); run:\n  {HINT}")
        return 2
    print(f"{versions()}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    if importlib.metadata.version("boto3") != importlib.metadata.version("botocore"):
        print(f"warning: boto3 and botocore differ; run it as\n  {HINT}")
    try:
        with tempfile.TemporaryDirectory() as log_dir:
            windows = run(args, Path(log_dir))
    except (RuntimeError, BotoCoreError, ClientError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print(render(windows))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: everything the benchmark started is stopped", file=sys.stderr)
        sys.exit(130)
