"""Every code block of the README and docs/ runs as written, or is checked as what it is.

Python blocks are saved as the files they name and run as a user would: each module is
imported in a fresh interpreter and the test files run under pytest. JSON and TOML blocks
are parsed (an envelope is validated; a topics file is loaded); shell blocks are valid
shell, and the `make` targets they name exist. The shell blocks that talk to the local run
are run against real processes in `tests/e2e/test_doc_commands.py`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from shared.aws import ReceivedMessage
from shared.messages.envelope import Envelope
from shared.messages.formats import read_message
from shared.topology.topics_file import load_topics_file
from tests.docs.snippets import ROOT, Block, blocks, python_project

MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def write_project(files: dict[str, str], into: Path) -> None:
    for path, text in files.items():
        target = into / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def run_python(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter in `cwd`, with this repository importable as a user's clone is."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cwd), str(ROOT)])}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_docs_show_python_files_a_user_can_save() -> None:
    files = python_project()  # raises on a block without its file, or two that disagree
    assert "myapp/handlers.py" in files
    assert any(Path(path).name.startswith("test_") for path in files)


def test_every_python_module_of_the_docs_imports_on_its_own(tmp_path: Path) -> None:
    files = python_project()
    write_project(files, tmp_path)
    for path in files:
        module = path.removesuffix(".py").replace("/", ".")
        ran = run_python(["-c", f"import {module}"], tmp_path)
        assert ran.returncode == 0, f"import {module}:\n{ran.stderr}"


def test_the_docs_tests_pass_against_the_docs_handlers(tmp_path: Path) -> None:
    files = python_project()
    write_project(files, tmp_path)
    tests = [path for path in files if Path(path).name.startswith("test_")]
    expected = sum(len(re.findall(r"^def test_", files[path], re.MULTILINE)) for path in tests)
    ran = run_python(["-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"{expected} passed" in ran.stdout, ran.stdout


def test_the_docs_tests_fail_when_the_handler_is_not_registered(tmp_path: Path) -> None:
    """The docs' tests cannot pass by accident: without its handler, they fail."""
    files = python_project()
    files["myapp/handlers.py"] = files["myapp/handlers.py"].replace(
        '@handler("order.created"', '@handler("order.renamed"'
    )
    write_project(files, tmp_path)
    tests = [path for path in files if Path(path).name.startswith("test_")]
    ran = run_python(["-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], tmp_path)
    assert ran.returncode == 1, ran.stdout
    assert "failed" in ran.stdout


FORMAT_EXAMPLES = {
    '"Type": "Notification"': "sns",
    '"eventSource": "aws:s3"': "s3",
    '"detail-type"': "eventbridge",
}


@pytest.mark.parametrize("block", blocks("json"), ids=lambda b: b.where)
def test_a_json_block_is_json_and_a_body_the_consumer_reads(block: Block) -> None:
    """An envelope example is a valid envelope; a foreign format's example is read as that
    format (an SNS notification, as what it carries); none is refused."""
    data = json.loads(block.text)
    if isinstance(data, dict) and {"type", "payload"} <= data.keys():
        Envelope.model_validate(data)
    message = ReceivedMessage("sqs-id", "receipt", block.text, 1, {})
    incoming = read_message(message)  # raises NotReadableError for a body it refuses
    for marker, written in FORMAT_EXAMPLES.items():
        if marker in block.text:
            envelope = incoming.envelopes[0]
            assert written in (incoming.format, "sns" if envelope.origin.sns else None)


@pytest.mark.parametrize("block", blocks("toml"), ids=lambda b: b.where)
def test_a_toml_block_is_toml_and_a_topics_file_loads(block: Block, tmp_path: Path) -> None:
    data = tomllib.loads(block.text)
    if "topics" in data:
        path = tmp_path / "topics.toml"
        path.write_text(block.text, encoding="utf-8")
        assert load_topics_file(path).topics


@pytest.mark.parametrize("block", blocks("sh"), ids=lambda b: b.where)
def test_a_shell_block_is_valid_shell_and_names_real_make_targets(block: Block) -> None:
    checked = subprocess.run(
        ["bash", "-n"], input=block.text, capture_output=True, text=True, timeout=10
    )
    assert checked.returncode == 0, checked.stderr
    for target in re.findall(r"(?:^|\s)make ([a-z][\w-]*)", block.text):
        assert re.search(rf"^{target}:", MAKEFILE, re.MULTILINE), f"no make target {target}"
