"""Two commits' CPU per message, measured in turns: `python -m bench.compare BEFORE [AFTER]`.

This system (c) runs at each commit in turn on one moto server, so that whatever drifts
during the run (moto's state, the machine's other load, its clocks) weighs on both alike.

A change that costs 0.2 ms per message is hard to tell from run-to-run noise when each
commit gets one bench run of its own, minutes apart. Here each round runs (c), the real
producer and consumer under the bench's load, once per commit, in alternating order (AB,
BA, AB, ...), each on fresh queues. Each commit runs from a temporary git worktree with this
checkout's virtualenv; `AFTER` defaults to this checkout as it is, uncommitted changes
included. It prints every run, then each commit's median and the after/before ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.endpoint import fresh_queues, start_moto
from bench.environment import add_env_option, child_env, use_own_env
from bench.system import measure_system, running_system
from scripts.processes import ROOT

PROCESSES = ("producer", "consumer")
WORKTREE_SECONDS = 60


@dataclass
class Side:
    """One commit's tree and the CPU ms per message of each process, run by run."""

    label: str
    tree: Path
    logs: Path
    env: dict[str, str] = field(default_factory=dict)
    """Environment for this side's services only (`--before-env`, `--after-env`)."""
    runs: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PROCESSES})

    def median(self, process: str) -> float:
        return statistics.median(self.runs[process])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("before", help="a commit, branch or tag")
    add("after", nargs="?", help="a commit, branch or tag; this checkout as it is if not given")
    add("--rounds", type=int, default=3, help="runs of each commit, alternating")
    add("--messages", type=int, default=1000, help="messages per run")
    add("--clients", type=int, default=32, help="concurrent HTTP clients")
    add("--depth-cap", type=int, default=50, help="senders pause above this many unfinished")
    add("--timeout", type=float, default=180.0, help="limit on each run, seconds")
    for side in ("before", "after"):
        add_env_option(
            parser,
            f"--{side}-env",
            f"environment for the {side} side's services only (one commit, two settings)",
        )
    return parser.parse_args(argv)


@contextlib.contextmanager
def worktree(revision: str, parent: Path) -> Iterator[Path]:
    """`revision` checked out in a detached worktree under `parent`, removed afterwards."""
    path = parent / revision.replace("/", "_")
    git = ["git", "-C", str(ROOT)]
    subprocess.run(  # noqa: S603 - git, with a revision its own user named
        [*git, "worktree", "add", "--quiet", "--detach", str(path), revision],
        check=True,
        timeout=WORKTREE_SECONDS,
    )
    try:
        yield path
    finally:
        subprocess.run(  # noqa: S603 - git, removing what it added
            [*git, "worktree", "remove", "--force", str(path)],
            check=False,
            timeout=WORKTREE_SECONDS,
        )


def measure(side: Side, endpoint_url: str, args: argparse.Namespace, env: dict[str, str]) -> None:
    with (
        fresh_queues(endpoint_url, "ab", wait_seconds=1) as settings,
        running_system(env, settings, side.logs, side.env, cwd=side.tree) as system,
    ):
        m = measure_system(
            system,
            messages=args.messages,
            clients=args.clients,
            cap=args.depth_cap,
            timeout=args.timeout,
        )
    if m.errors:
        raise RuntimeError(f"{side.label}: {m.errors} of {args.messages} messages not handled")
    for process in PROCESSES:
        side.runs[process].append(m.cpu_ms_per_message(process))
    cpu = ", ".join(f"{p} {side.runs[p][-1]:.2f}" for p in PROCESSES)
    print(
        f"   {side.label}: {m.rate:6.0f} msg/s, {m.requests_per_message:.3f} req/msg,"
        f" CPU ms/msg: {cpu}",
        flush=True,
    )


def report(before: Side, after: Side) -> str:
    lines = [f"{'':10}{'before':>10}{'after':>10}{'after/before':>14}"]
    for process in PROCESSES:
        old, new = before.median(process), after.median(process)
        lines.append(f"{process:10}{old:10.3f}{new:10.3f}{new / old:13.2f}x")
    return "CPU ms per message, median of each commit's runs:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = child_env([])
    use_own_env(env)
    with (
        tempfile.TemporaryDirectory(prefix="bench-compare-") as scratch,
        contextlib.ExitStack() as stack,
    ):
        parent = Path(scratch)
        before_tree = stack.enter_context(worktree(args.before, parent))
        after_tree = (
            ROOT if args.after is None else stack.enter_context(worktree(args.after, parent))
        )
        before = Side(
            f"before ({args.before})", before_tree, parent / "logs-before", dict(args.before_env)
        )
        after = Side(
            f"after ({args.after or 'this checkout'})",
            after_tree,
            parent / "logs-after",
            dict(args.after_env),
        )
        for side in (before, after):
            side.logs.mkdir()
        moto = start_moto(env, parent)
        stack.callback(moto.child.stop)
        for round_ in range(args.rounds):
            print(f"round {round_ + 1} of {args.rounds}", flush=True)
            for side in (before, after) if round_ % 2 == 0 else (after, before):
                measure(side, moto.url, args, env)
    print(report(before, after))
    return 0


if __name__ == "__main__":
    sys.exit(main())
