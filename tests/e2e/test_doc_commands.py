"""The docs' commands against real processes: every shell block that talks to the local run
runs as written (the local ports swapped for the test's), and the handler the README shows,
saved as `myapp/handlers.py`, handles the README's `curl` in a real consumer."""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

from tests.docs.snippets import (
    LOCAL_CONSUMER,
    LOCAL_PRODUCER,
    ROOT,
    Block,
    blocks,
    python_project,
    talks_to_the_local_run,
)
from tests.e2e.conftest import Stack, StackFactory
from tests.support import shell_env, wait_for

LOCAL_BLOCKS = [block for block in blocks("sh") if talks_to_the_local_run(block)]


ADMIN_TOKEN = secrets.token_urlsafe(16)
VENV_BIN = Path(sys.executable).parent


def local_env_file(stack: Stack, into: Path) -> Path:
    """What `make run` writes to `.run/local.env`, for this stack."""
    names = ("SQS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "TOPICS_FILE")
    lines = [f"{name}={shlex.quote(stack.env[name])}" for name in names]
    lines += ["AWS_REGION=us-east-1", f"PRODUCER_ADMIN_TOKEN={ADMIN_TOKEN}"]
    path = into / "local.env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_block(block: Block, stack: Stack, env_file: Path) -> str:
    """Run as written, but on the stack's ports, with its settings file, and with the
    project's commands from this environment (`uv run x` is `x` from the venv)."""
    script = (
        block.text.replace(LOCAL_PRODUCER, stack.producer_url)
        .replace(LOCAL_CONSUMER, stack.consumer_url)
        .replace(".run/local.env", str(env_file))
        .replace("uv run ", "")
    )
    clean = shell_env()
    ran = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=ROOT,
        env={**clean, "PATH": f"{VENV_BIN}{os.pathsep}{clean.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, f"{block.where}:\n{ran.stdout}\n{ran.stderr}"
    assert "HTTP/1.1 5" not in ran.stdout, f"{block.where}:\n{ran.stdout}"
    return ran.stdout


def test_the_docs_commands_run_and_the_docs_handler_handles_the_readme_message(
    start_stack: StackFactory, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    for path, text in python_project().items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text, encoding="utf-8")
    stack = start_stack(
        CONSUMER_HANDLERS="myapp.handlers",
        TOPICS_FILE=str(ROOT / "topics.example.toml"),
        PYTHONPATH=f"{project}:{ROOT}",
        PRODUCER_ADMIN_TOKEN=ADMIN_TOKEN,
    )
    env_file = local_env_file(stack, tmp_path)
    assert LOCAL_BLOCKS, "no shell block talks to the local run"
    outputs = {block.where: run_block(block, stack, env_file) for block in LOCAL_BLOCKS}
    readme = next(out for where, out in outputs.items() if where.startswith("README.md"))
    assert "HTTP/1.1 202" in readme
    wait_for(
        lambda: "charged 9.5 for order A-1" in stack.consumer.output,
        timeout=30,
        what=f"the docs' handler to run\n{stack.consumer.output_tail()}",
    )
