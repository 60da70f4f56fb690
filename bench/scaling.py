"""`python -m bench.scaling`: (c)'s CPU per message and memory as messages and clients grow.

A cost that grows with the number of messages (a list never trimmed, a cache never bounded)
hides in a run of a thousand. Here each cell of messages x clients runs (c) on a fresh
producer and consumer, as shipped, on moto behind the bench's delaying proxy, and prints
throughput, requests and CPU per message, and each process's memory before and after. It
judges two things: CPU per message stays flat as messages grow (at most `MAX_CPU_GROWTH`
times the smallest run's, at each client count), and so does memory (each process's memory
after the largest run at most `MAX_MEMORY_GROWTH` times that after the smallest).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.endpoint import fresh_queues, start_moto
from bench.environment import add_env_option, child_env, use_own_env
from bench.proxy import start_proxy
from bench.results import Measurement
from bench.system import measure_system, running_system
from scripts.processes import HOST

PROCESSES = ("producer", "consumer")
MAX_CPU_GROWTH = 1.2
MAX_MEMORY_GROWTH = 1.1


@dataclass(frozen=True)
class Cell:
    messages: int
    clients: int
    m: Measurement


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scaling",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--messages", type=int, nargs="+", default=[1000, 10_000], help="messages per run")
    add("--clients", type=int, nargs="+", default=[8, 32, 128], help="concurrent HTTP clients")
    add("--delay-ms", type=float, default=20.0, help="delay the proxy adds per request")
    add("--depth-cap", type=int, default=50, help="senders pause above this many unfinished")
    add("--timeout", type=float, default=600.0, help="limit on each run, seconds")
    add_env_option(
        parser,
        "--env",
        "extra environment for producer and consumer, e.g. PRODUCER_STATUS_CAPACITY=1000",
    )
    return parser.parse_args(argv)


def render(cells: Sequence[Cell]) -> str:
    header = (
        f"{'messages':>8} {'clients':>7} {'msg/s':>6} {'req/msg':>7}"
        f" {'producer ms':>11} {'consumer ms':>11} {'producer MiB':>14} {'consumer MiB':>14}"
    )
    lines = [header]
    for cell in cells:
        m = cell.m
        memory = [
            f"{m.rss_mib[p][0]:.0f} -> {m.rss_mib[p][1]:.0f}" if p in m.rss_mib else "-"
            for p in PROCESSES
        ]
        lines.append(
            f"{cell.messages:>8,} {cell.clients:>7} {m.rate:>6.0f} {m.requests_per_message:>7.3f}"
            f" {m.cpu_ms_per_message('producer'):>11.3f} {m.cpu_ms_per_message('consumer'):>11.3f}"
            f" {memory[0]:>14} {memory[1]:>14}"
        )
    return "\n".join(lines)


def verdicts(cells: Sequence[Cell]) -> list[str]:
    """Flat CPU per message and flat memory, from the fewest messages to the most."""
    found = []
    fewest, most = min(c.messages for c in cells), max(c.messages for c in cells)
    for clients in sorted({c.clients for c in cells}):
        small = next((c for c in cells if (c.messages, c.clients) == (fewest, clients)), None)
        large = next((c for c in cells if (c.messages, c.clients) == (most, clients)), None)
        if small is None or large is None or small is large:
            continue
        for process in PROCESSES:
            cpu = large.m.cpu_ms_per_message(process) / small.m.cpu_ms_per_message(process)
            memory = large.m.rss_mib[process][1] / small.m.rss_mib[process][1]
            found.append(
                f"  [{'met ' if cpu <= MAX_CPU_GROWTH else 'MISS'}] {clients} clients: {process}"
                f" CPU/msg at {most:,} <= {MAX_CPU_GROWTH}x at {fewest:,}: {cpu:.2f}x"
            )
            found.append(
                f"  [{'met ' if memory <= MAX_MEMORY_GROWTH else 'MISS'}] {clients} clients:"
                f" {process} memory after {most:,} <= {MAX_MEMORY_GROWTH}x after {fewest:,}:"
                f" {memory:.2f}x"
            )
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = child_env([])
    use_own_env(env)
    cells: list[Cell] = []
    with contextlib.ExitStack() as stack:
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        moto = start_moto(env, logs)
        stack.callback(moto.child.stop)
        proxy, port = start_proxy(moto.port, args.delay_ms, env, logs)
        stack.callback(proxy.stop)
        url = f"http://{HOST}:{port}"
        for messages in args.messages:
            for clients in args.clients:
                with (
                    fresh_queues(url, "scale", wait_seconds=1) as settings,
                    running_system(env, settings, logs, dict(args.env)) as system,
                ):
                    m = measure_system(
                        system,
                        messages=messages,
                        clients=clients,
                        cap=args.depth_cap,
                        timeout=args.timeout,
                    )
                cells.append(Cell(messages, clients, m))
                print(render(cells[-1:]).splitlines()[-1], flush=True)
                moto.reset()
    setup = " ".join(f"{name}={value}" for name, value in args.env) or "as shipped"
    print(f"\nmoto +{args.delay_ms:g} ms, (c) {setup}:\n{render(cells)}\n")
    print("targets:\n" + "\n".join(verdicts(cells)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
