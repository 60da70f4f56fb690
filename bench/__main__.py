"""`python -m bench` (`make bench`): measure (a)-(d) directly on moto and through a delaying
proxy, optionally on localstack too, and print the tables.

Everything it starts (endpoint, proxy, services) runs on 127.0.0.1 and is stopped when it
ends, on Ctrl-C or on an error; every loop and wait in it is bounded in count and time.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from bench.baselines import measure_batched, measure_naive
from bench.ceiling import measure_ceiling, measure_floor
from bench.cpu import cpu_seconds, machine_cpu
from bench.endpoint import Endpoint, fresh_queues, probe_round_trip, start_moto
from bench.environment import add_env_option, child_env, use_own_env
from bench.localstack import LocalstackUnavailableError, start_localstack
from bench.proxy import start_proxy
from bench.report import render_markdown, render_text
from bench.results import Config, Measurement, TargetRun
from bench.status_path import measure_status_path
from bench.system import measure_light, measure_system, running_system
from bench.trace_cost import measure_trace_cost
from scripts.processes import HOST
from shared.aws import AwsError
from shared.settings import ConsumerSettings, ProducerSettings

DEFAULT_CONCURRENCY = ConsumerSettings.model_fields["concurrency"].default


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--messages", type=int, default=1000, help="messages per measurement")
    add("--clients", type=int, default=32, help="concurrent HTTP clients for (c), (d)")
    add("--delay-ms", type=float, default=20.0, help="delay the proxy adds per SQS request")
    add("--depth-cap", type=int, default=50, help="senders pause above this many unfinished")
    add("--wait-seconds", type=int, default=1, help="SQS_WAIT_TIME_SECONDS for all receivers")
    add("--light-seconds", type=float, default=10.0, help="duration of the light-load run")
    add("--light-interval-ms", type=float, default=200.0, help="gap between light-load POSTs")
    add("--timeout", type=float, default=180.0, help="limit on each measurement, seconds")
    add("--localstack", action="store_true", help="also run against localstack (python3.13)")
    add("--log-dir", type=Path, help="keep the services' logs here, not in a temp dir")
    add("--markdown", type=Path, help="also write the markdown tables to this file")
    add_env_option(
        parser, "--env", "extra environment for producer and consumer, e.g. CONSUMER_POLLERS=2"
    )
    return parser.parse_args(argv)


def make_config(args: argparse.Namespace, env: dict[str, str]) -> Config:
    window = env.get("PRODUCER_BATCH_WINDOW_MS", str(ProducerSettings().batch_window_ms))
    return Config(
        messages=args.messages,
        clients=args.clients,
        cap=args.depth_cap,
        wait_seconds=args.wait_seconds,
        delay_ms=args.delay_ms,
        light_messages=max(1, round(args.light_seconds * 1000 / args.light_interval_ms)),
        light_interval=args.light_interval_ms / 1000,
        timeout=args.timeout,
        batch_window_ms=float(window),
    )


@dataclass(frozen=True)
class CpuMark:
    """CPU counters at a measurement's start: the endpoint's own and the whole machine's."""

    endpoint: float
    machine: tuple[float, float]

    @classmethod
    def now(cls, run: TargetRun) -> CpuMark:
        return cls(cpu_seconds(run.endpoint_pid), machine_cpu())


def _keep(run: TargetRun, m: Measurement, start: CpuMark) -> None:
    run.measurements[m.key] = m
    run.endpoint_cpu[m.key] = cpu_seconds(run.endpoint_pid) - start.endpoint
    busy, total = machine_cpu()
    run.machine_busy[m.key] = (busy - start.machine[0]) / max(total - start.machine[1], 1)
    print(
        f"   {m.key}: {m.rate:8.0f} msg/s  {m.requests_per_message:6.3f} req/msg"
        f"  p50 {m.latency_ms(50):7.1f} ms  lost {m.errors}  CPU: endpoint"
        f" {run.endpoint_busy(m.key):4.0%} of a core, machine {run.machine_busy[m.key]:4.0%}"
        f"   ({m.label})",
        flush=True,
    )


def measure_baselines(run: TargetRun, sqs_url: str, config: Config) -> None:
    for key, measure in (("a", measure_naive), ("b", measure_batched)):
        with fresh_queues(sqs_url, key, config.wait_seconds) as settings:
            cpu = CpuMark.now(run)
            _keep(
                run,
                measure(settings, messages=config.messages, cap=config.cap, timeout=config.timeout),
                cpu,
            )


def measure_this_system(
    run: TargetRun, sqs_url: str, config: Config, env: dict[str, str], logs: Path
) -> None:
    """(c) under load, then light load on the same processes (the queue is empty by then)."""
    with (
        fresh_queues(sqs_url, "c", config.wait_seconds) as settings,
        running_system(env, settings, logs) as system,
    ):
        cpu = CpuMark.now(run)
        _keep(
            run,
            measure_system(
                system,
                messages=config.messages,
                clients=config.clients,
                cap=config.cap,
                timeout=config.timeout,
            ),
            cpu,
        )
        load = run.measurements["c"]
        print(
            f"      CPU per message: producer {load.cpu_ms_per_message('producer'):.2f} ms,"
            f" consumer {load.cpu_ms_per_message('consumer'):.2f} ms; most threads at once:"
            f" producer {load.peak_threads.get('producer', 0)},"
            f" consumer {load.peak_threads.get('consumer', 0)}"
            f" (CONSUMER_CONCURRENCY {env.get('CONSUMER_CONCURRENCY') or DEFAULT_CONCURRENCY});"
            f" memory before -> after: {_memory(load)}",
            flush=True,
        )
        run.light = measure_light(
            system,
            messages=config.light_messages,
            interval=config.light_interval,
            timeout=config.timeout,
        )
    print(
        f"   light load: median {run.light.median_ms:.1f} ms to the handler"
        f" ({run.light.answer_median_ms:.1f} ms to the 202)",
        flush=True,
    )


def _memory(m: Measurement) -> str:
    return ", ".join(
        f"{name} {before:.0f} -> {after:.0f} MiB" for name, (before, after) in m.rss_mib.items()
    )


def run_target(
    endpoint: Endpoint,
    name: str,
    sqs_url: str,
    config: Config,
    env: dict[str, str],
    log_dir: Path,
    *,
    delayed: bool,
) -> TargetRun:
    """(a), (b), (c) with light load, and (d), each on fresh queues of one endpoint."""
    logs = log_dir / re.sub(r"[^a-z0-9]+", "-", name.lower())
    logs.mkdir(parents=True, exist_ok=True)
    run = TargetRun(name, probe_round_trip(sqs_url, config.wait_seconds), delayed)
    run.endpoint_pid = endpoint.child.process.pid
    print(f"== {name} ({sqs_url}): one SQS round trip {run.round_trip * 1000:.1f} ms", flush=True)
    measure_baselines(run, sqs_url, config)
    measure_this_system(run, sqs_url, config, env, logs)
    run.trace = measure_trace_cost()
    print(
        f"   trace ids with no SDK: producer {run.trace.producer_ms:.3f} + consumer"
        f" {run.trace.consumer_ms:.3f} ms CPU/msg = {run.trace_share():.1%} of (c)'s",
        flush=True,
    )
    if not delayed and endpoint.dynamodb:
        status = measure_status_path(sqs_url, config, env, logs)
        print(
            f"   s: status shared in DynamoDB: {status.requests_per_message:.3f} DynamoDB"
            f" requests/msg ({status.events_per_message:.1f} status events/msg written)",
            flush=True,
        )
    for measure_server in (measure_ceiling, measure_floor):
        cpu = CpuMark.now(run)
        server = measure_server(
            env, logs, messages=config.messages, clients=config.clients, timeout=config.timeout
        )
        _keep(run, server, cpu)
        print(f"      server CPU per request: {server.cpu_ms_per_message('server'):.3f} ms")
    print(
        f"   CPU per message: (c) {run.system_cpu_ms():.3f} ms = {run.over_floor():.2f}x the"
        f" floor {run.floor_cpu_ms():.3f} ms ((b)'s loop"
        f" {run.measurements['b'].cpu_ms_per_message('loop'):.3f} + (f)'s bare route)",
        flush=True,
    )
    return run


def run_endpoint(
    endpoint: Endpoint,
    config: Config,
    env: dict[str, str],
    log_dir: Path,
    stack: contextlib.ExitStack,
) -> list[TargetRun]:
    """The whole set on `endpoint` directly, then again through the delaying proxy."""
    runs = [run_target(endpoint, endpoint.name, endpoint.url, config, env, log_dir, delayed=False)]
    endpoint.reset()
    proxy, port = start_proxy(endpoint.port, config.delay_ms, env, log_dir)
    stack.callback(proxy.stop)
    name = f"{endpoint.name} +{config.delay_ms:g} ms"
    url = f"http://{HOST}:{port}"
    runs.append(run_target(endpoint, name, url, config, env, log_dir, delayed=True))
    return runs


def run_all(
    args: argparse.Namespace, config: Config, env: dict[str, str], log_dir: Path
) -> list[TargetRun]:
    with contextlib.ExitStack() as stack:
        moto = start_moto(env, log_dir)
        stack.callback(moto.child.stop)
        runs = run_endpoint(moto, config, env, log_dir, stack)
        if not args.localstack:
            print("localstack: skipped (add --localstack to measure it too)", flush=True)
            return runs
        try:
            localstack = start_localstack(env, log_dir)
        except (LocalstackUnavailableError, RuntimeError) as exc:
            print(f"localstack: skipped: {exc}", flush=True)
            return runs
        stack.callback(localstack.child.stop)
        return runs + run_endpoint(localstack, config, env, log_dir, stack)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = child_env(args.env)
    use_own_env(env)
    config = make_config(args, env)
    with contextlib.ExitStack() as dirs:
        log_dir = args.log_dir or Path(dirs.enter_context(tempfile.TemporaryDirectory()))
        log_dir.mkdir(parents=True, exist_ok=True)
        try:
            runs = run_all(args, config, env, log_dir)
        except (RuntimeError, AwsError, BotoCoreError, ClientError) as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    markdown = render_markdown(runs)
    print(f"\n{render_text(runs, config)}\n\nmarkdown:\n\n{markdown}")
    if args.markdown:
        args.markdown.write_text(markdown + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: everything the benchmark started is stopped", file=sys.stderr)
        sys.exit(130)
