"""Child processes, one way for the local run, the benchmark and the end-to-end tests.

Each child is `python ...` in its own session, so Ctrl-C reaches the parent alone and it
stops children in order; on Linux the kernel also stops them if the parent is killed
outright, and whatever is still running when the parent exits is killed then. A child's
output goes to a log file, or is relayed to the parent's stdout with its name in front.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 15.0

_running: list[subprocess.Popen[bytes]] = []


@atexit.register
def _kill_leftovers() -> None:
    for process in _running:
        if process.poll() is None:
            process.kill()


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class Child:
    """A started `python ...` process: its output in `log_path`, or relayed with a prefix."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        log_path: Path | None = None,
        python: str | None = None,
        cwd: Path = ROOT,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self.killed = False
        """Whether `stop` had to kill it: it ignored the signal for the whole grace period."""
        self._log: IO[bytes] | None = log_path.open("wb") if log_path else None
        self.process = subprocess.Popen(
            [python or sys.executable, *argv],
            cwd=cwd,
            env=dict(env),
            stdout=self._log or subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        _running.append(self.process)
        self._relay: threading.Thread | None = None
        if self._log is None:
            self._relay = threading.Thread(target=self._relay_lines, daemon=True)
            self._relay.start()

    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def output(self) -> str:
        """Everything it wrote to its log so far ("" when relayed)."""
        if self._log is not None and not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def output_tail(self, chars: int = 3000) -> str:
        return self.output[-chars:]

    def stop(self, sig: int = signal.SIGTERM, grace: float = STOP_GRACE_SECONDS) -> int | None:
        """Send `sig`, then SIGKILL after `grace` seconds; returns the exit code."""
        if self.alive():
            self.process.send_signal(sig)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.process.kill()
                self.process.wait(5)
        if self._relay is not None:
            self._relay.join(2)
        if self._log is not None:
            self._log.close()
        return self.process.returncode

    def _relay_lines(self) -> None:
        """Prefix every line with the child's name so interleaved logs stay readable; a JSON
        line (`LOG_FORMAT=json`) names its service itself and is relayed as it is, so the
        output can go to a log pipeline as it stands."""
        assert self.process.stdout is not None  # noqa: S101 - set: no log file was given
        for line in self.process.stdout:
            text = line.decode(errors="replace")
            sys.stdout.write(text if text.startswith("{") else f"[{self.name:8}] {text}")
            sys.stdout.flush()


@contextlib.contextmanager
def stopped_on_failure(child: Child) -> Iterator[Child]:
    """Stop `child` if the block fails (say, it never became ready); keep it running if not."""
    try:
        yield child
    except BaseException:
        child.stop()
        raise


_given_ports: set[int] = set()
"""Every port `free_port` handed out: the OS may offer a just-closed port again, and two
children told the same port (a producer and a consumer started together) collide."""


def free_port() -> int:
    """A port nobody listens on right now (the child binds it a moment later), never one
    this process was given before."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port: int = sock.getsockname()[1]
        if port not in _given_ports:
            _given_ports.add(port)
            return port
    raise RuntimeError("no fresh free port after 100 tries")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


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


Watched = Child | Sequence[Child] | None
"""The children a wait gives up on as soon as one of them dies."""


def start(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    log_dir: Path,
    *,
    python: str | None = None,
    cwd: Path = ROOT,
) -> Child:
    """Start `name`, its output in `log_dir/<name>.log`."""
    return Child(name, argv, env, log_path=log_dir / f"{name}.log", python=python, cwd=cwd)


def wait_for(ready: Callable[[], bool], watched: Watched, timeout: float, what: str) -> bool:
    """Poll `ready` every 0.1 s for up to `timeout`; False if it never was. Raises as soon as
    a watched child has died: waiting longer could not help."""
    children = _children(watched)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [child for child in children if not child.alive()]
        if dead:
            tails = "\n".join(f"{c.name}:\n{c.output_tail()}" for c in dead)
            raise RuntimeError(
                f"{', '.join(c.name for c in dead)} exited while waiting for {what}\n{tails}"
            )
        with contextlib.suppress(OSError):
            if ready():
                return True
        time.sleep(0.1)
    return False


def wait_until(ready: Callable[[], bool], watched: Watched, timeout: float, what: str) -> None:
    """As `wait_for`, but a timeout is an error too."""
    if not wait_for(ready, watched, timeout, what):
        tails = "".join(f":\n{c.output_tail()}" for c in _children(watched))
        raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}{tails}")


def wait_http_ok(url: str, watched: Watched, timeout: float) -> None:
    def ok() -> bool:
        answer = http_get(url)
        return answer is not None and answer[0] == 200

    wait_until(ok, watched, timeout, url)


def http_post(url: str, timeout: float = 10.0) -> int | None:
    """The status of an empty POST, or None when nothing answers."""
    request = urllib.request.Request(url, data=b"", method="POST")  # noqa: S310 - local URL
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def _children(watched: Watched) -> list[Child]:
    if watched is None:
        return []
    return [watched] if isinstance(watched, Child) else list(watched)
