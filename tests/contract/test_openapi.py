"""schemathesis against the real producer: every operation, every check, and the links.

The producer runs as its own process on 127.0.0.1 over moto's server, with API keys, an
admin token and a declared topic, so the fuzzer meets what a client meets: the schema the
producer serves is the contract, and any answer it does not describe fails.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.processes import free_port
from tests.support import ROOT, Service, http_status, service_env, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

API_KEY = secrets.token_urlsafe(16)
ADMIN_TOKEN = secrets.token_urlsafe(16)
TOPICS = """
[topics.orders]
[[topics.orders.subscriptions]]
queue = "audit"
"""


@pytest.fixture(scope="module")
def producer_url(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("contract")
    topics_file = tmp / "topics.toml"
    topics_file.write_text(TOPICS)
    env = service_env(
        moto_server,
        TOPICS_FILE=str(topics_file),
        PRODUCER_PORT=str(free_port()),
        PRODUCER_API_KEYS=API_KEY,
        PRODUCER_ADMIN_TOKEN=ADMIN_TOKEN,
        SQS_QUEUE_NAME="contract",
        SQS_DLQ_NAME="contract-dlq",
        SQS_EVENTS_QUEUE_NAME="contract-events",
    )
    done = subprocess.run(
        [sys.executable, "-m", "shared.bootstrap"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    service = Service(["-m", "producer"], env, tmp / "producer.log")
    url = f"http://127.0.0.1:{env['PRODUCER_PORT']}"
    wait_for(
        lambda: http_status(f"{url}/readyz") == 200,
        timeout=30,
        what=f"producer ready\n{service.output}",
    )
    yield url
    assert service.stop() == 0, service.output[-3000:]
    assert "Traceback" not in service.output, service.output[-5000:]


CONFIG = """
[checks.negative_data_rejection]
# 413 is how the producer refuses a body over PRODUCER_MAX_BODY_BYTES, which no schema states
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
"""


def schemathesis_run(
    url: str, tmp: Path, token: str, *paths: str
) -> subprocess.CompletedProcess[str]:
    config = tmp / "schemathesis.toml"
    config.write_text(CONFIG)
    args = [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config)]
    args += [
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "-H",
        f"Authorization: Bearer {token}",
    ]
    args += ["--max-examples", "10", "--workers", "1", "--seed", "1", "--request-timeout", "30"]
    for path in paths:
        args += ["--include-path-regex", path]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.contract.schemathesis_hooks"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        args, cwd=tmp, env=env, capture_output=True, text=True, timeout=900, check=False
    )


def failures(out: str) -> str:
    """The failures section of schemathesis's report, bounded for the assertion message."""
    start = out.find("FAILURES")
    return out[start : start + 6000] if start >= 0 else out[-6000:]


def test_the_api_holds_to_its_schema_under_every_check_and_link(
    producer_url: str, tmp_path: Path
) -> None:
    """Examples, coverage, fuzzing and stateful phases (the 202's link to the status route)."""
    done = schemathesis_run(producer_url, tmp_path, API_KEY, "^/(messages|topics)")
    assert done.returncode == 0, failures(done.stdout)
    assert "Stateful" in done.stdout
