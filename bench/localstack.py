"""Optionally, localstack as a second endpoint: its calls cost the same at any queue depth.

It runs without Docker on Python 3.13, from its own virtual environment under
~/.cache/sqs-bench/ (made once, reused after). Anything missing (python3.13, the install)
is reported as a reason to skip, never as a failure of the benchmark.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from bench.endpoint import Endpoint
from scripts.processes import HOST, free_port, http_get, start, stopped_on_failure, wait_until

PACKAGES = [
    "localstack-core[runtime]==2026.3.0",
    "cbor2<6",
    "cryptography<45",
    "pyopenssl<25",
    "service_identity",
]
OFFLINE = {
    "OVERRIDE_IN_DOCKER": "0",  # host mode: its files go under FILESYSTEM_ROOT, not /var/lib
    "DNS_ADDRESS": "0",  # no DNS server, and no look-up of an upstream one
    "SKIP_SSL_CERT_DOWNLOAD": "1",
    "DISABLE_EVENTS": "1",  # no analytics
    "LS_LOG": "warn",  # no log line per request, as with moto
}
"""Only loopback traffic: nothing of localstack's own reaches out, nothing slows it down."""
INSTALL_SECONDS = 900.0
STARTUP_SECONDS = 120.0


class LocalstackUnavailableError(Exception):
    """Why localstack cannot run here; the benchmark prints it and goes on without."""


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sqs-bench"


def _is_python313(python: str) -> bool:
    try:
        done = subprocess.run(  # noqa: S603 - a local interpreter, fixed arguments
            [python, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 13))"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def find_python313() -> str:
    """python3.13 from PATH, or an interpreter pyenv installed (its shim may not select it)."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which("python3.13")]
    candidates += [str(p) for p in sorted(pyenv_root.glob("versions/3.13*/bin/python3.13"))]
    for candidate in candidates:
        if candidate and _is_python313(candidate):
            return candidate
    raise LocalstackUnavailableError("no working python3.13 found (localstack needs it)")


def _run(argv: list[str], what: str) -> None:
    try:
        done = subprocess.run(  # noqa: S603 - our venv's interpreter, fixed arguments
            argv, capture_output=True, text=True, timeout=INSTALL_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalstackUnavailableError(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        raise LocalstackUnavailableError(f"{what} failed:\n{done.stderr[-2000:]}")


def ensure_venv() -> Path:
    """The venv's interpreter, installing localstack on first use (a few minutes, once)."""
    venv = cache_dir() / "localstack-venv"
    python = venv / "bin" / "python"
    marker = venv / "bench-installed.json"
    if python.exists() and marker.exists() and json.loads(marker.read_text()) == PACKAGES:
        return python
    print(f"installing localstack into {venv} (once) ...", flush=True)
    _run([find_python313(), "-m", "venv", "--clear", str(venv)], "creating the venv")
    _run([str(python), "-m", "pip", "install", "--quiet", *PACKAGES], "pip install")
    marker.write_text(json.dumps(PACKAGES))
    return python


def _sqs_ready(url: str) -> bool:
    answer = http_get(f"{url}/_localstack/health")
    if answer is None or answer[0] != 200:
        return False
    services = json.loads(answer[1]).get("services", {})
    return services.get("sqs") in ("available", "running")


def start_localstack(env: Mapping[str, str], log_dir: Path) -> Endpoint:
    """localstack serving SQS and SNS (the status events' topic), path-style queue URLs, on a
    free loopback port. It has no DynamoDB: the status path is measured on moto alone."""
    python = ensure_venv()
    port = free_port()
    work = cache_dir() / "localstack-work"
    work.mkdir(parents=True, exist_ok=True)
    own_env = {
        **env,
        "SERVICES": "sqs,sns",
        "SQS_ENDPOINT_STRATEGY": "path",
        "GATEWAY_LISTEN": f"{HOST}:{port}",
        **OFFLINE,
        "FILESYSTEM_ROOT": str(work),
    }
    argv = ["-m", "localstack.runtime.main"]
    child = start("localstack", argv, own_env, log_dir, python=str(python), cwd=work)
    url = f"http://{HOST}:{port}"
    with stopped_on_failure(child):
        wait_until(lambda: _sqs_ready(url), child, STARTUP_SECONDS, "localstack's SQS")
    return Endpoint("localstack", url, port, child)
