"""`bench.compare` runs another commit's services from a worktree it cleans up, and reports
each process's after/before ratio of the medians."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.compare import Side, parse_args, report, worktree
from scripts.processes import ROOT


def worktrees() -> str:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "list", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return listed.stdout


def test_a_commit_is_checked_out_whole_and_its_worktree_is_gone_afterwards(
    tmp_path: Path,
) -> None:
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    with worktree(head, tmp_path) as tree:
        assert (tree / "consumer" / "__main__.py").is_file()
        assert (tree / "producer" / "__main__.py").is_file()
        assert str(tree) in worktrees()
    assert not tree.exists()
    assert str(tree) not in worktrees()


def test_the_report_gives_each_process_the_ratio_of_its_medians(tmp_path: Path) -> None:
    before = Side("before", tmp_path, tmp_path)
    after = Side("after", tmp_path, tmp_path)
    before.runs = {"producer": [1.0, 1.2, 9.0], "consumer": [0.5, 0.5, 0.4]}
    after.runs = {"producer": [1.5, 1.3, 1.8], "consumer": [0.5, 0.6, 0.6]}
    lines = report(before, after).splitlines()
    producer = next(line for line in lines if line.startswith("producer")).split()
    consumer = next(line for line in lines if line.startswith("consumer")).split()
    assert producer == ["producer", "1.200", "1.500", "1.25x"]
    assert consumer == ["consumer", "0.500", "0.600", "1.20x"]


def test_each_side_can_have_environment_of_its_own() -> None:
    args = parse_args(["HEAD", "--before-env", "PYTHONPATH=/x", "--after-env", "A=1=2"])
    assert (args.before, args.after) == ("HEAD", None)
    assert args.before_env == [("PYTHONPATH", "/x")]
    assert args.after_env == [("A", "1=2")]
