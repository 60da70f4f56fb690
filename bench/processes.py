"""Child processes the benchmark starts: each logs to a file and is stopped by signal.

Children run in their own session, so Ctrl-C reaches the benchmark alone and it stops them in
order; on Linux the kernel also stops them if the benchmark is killed outright.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 15.0


def free_port() -> int:
    """A port nobody listens on right now (the child binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Child:
    """A started process and the file its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes]

    def alive(self) -> bool:
        return self.process.poll() is None

    def output_tail(self, chars: int = 3000) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds; returns the exit code."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()
        return self.process.returncode


def start(
    name: str,
    argv: list[str],
    env: Mapping[str, str],
    log_dir: Path,
    *,
    python: str | None = None,
    cwd: Path = ROOT,
) -> Child:
    """Run `python argv...` (the project's own by default) in `cwd`, output in `log_dir`."""
    log_path = log_dir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
        [python or sys.executable, *argv],
        cwd=cwd,
        env=dict(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    return Child(name, process, log_path, log)


@contextlib.contextmanager
def stopped_on_failure(child: Child) -> Iterator[Child]:
    """Stop `child` if the block fails (say, it never became ready); keep it running if not."""
    try:
        yield child
    except BaseException:
        child.stop()
        raise


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes] | None:
    """Status and body of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - local URL
            status: int = response.status
            return status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return None


def http_post(url: str, timeout: float = 10.0) -> int | None:
    request = urllib.request.Request(url, data=b"", method="POST")  # noqa: S310 - local URL
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def wait_for(ready: Callable[[], bool], child: Child | None, timeout: float, what: str) -> bool:
    """Poll `ready` every 0.1 s for up to `timeout`; False if it never was. Raises as soon as
    `child` has died: waiting longer could not help."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise RuntimeError(
                f"{child.name} exited while waiting for {what}:\n{child.output_tail()}"
            )
        with contextlib.suppress(OSError):
            if ready():
                return True
        time.sleep(0.1)
    return False


def wait_until(ready: Callable[[], bool], child: Child | None, timeout: float, what: str) -> None:
    """As `wait_for`, but a timeout is an error too."""
    if not wait_for(ready, child, timeout, what):
        tail = f":\n{child.output_tail()}" if child is not None else ""
        raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")


def wait_http_ok(url: str, child: Child | None, timeout: float) -> None:
    def ok() -> bool:
        answer = http_get(url)
        return answer is not None and answer[0] == 200

    wait_until(ok, child, timeout, url)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system, all threads) a process has used so far; nan if unknown."""
    if pid is None:
        return math.nan
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU ticks of the whole machine so far, all cores; (nan, nan) if unknown."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return math.nan, math.nan
    ticks = [int(value) for value in first[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle and iowait
    return sum(ticks) - idle, sum(ticks)
