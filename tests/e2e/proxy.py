"""A small threaded TCP proxy on 127.0.0.1 that can simulate an outage of what it forwards to.

Restarting moto's server would lose its queues, so tests cut the path to it instead:
`cut()` closes every open connection and closes each new one as soon as it is accepted,
`restore()` forwards again. Clients see resets and closed connections, as in an outage.
`stall()` is the other kind of outage, where nothing answers: new connections are accepted
and left hanging, as behind a firewall that drops packets.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType
from urllib.parse import urlsplit

CHUNK = 65_536
ACCEPT_POLL_SECONDS = 0.1
CONNECT_TIMEOUT_SECONDS = 5.0


def _hard_close(sock: socket.socket) -> None:
    """Close at once, waking any thread blocked on the socket; RST rather than a polite FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `upstream`; start with `with TcpProxy(...) as proxy:`."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(ACCEPT_POLL_SECONDS)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._forwarding = threading.Event()
        self._forwarding.set()
        self._stalled = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True)
        self.accepted = 0
        """Connections forwarded upstream."""
        self.refused = 0
        """Connections closed on arrival because the proxy was cut."""

    @classmethod
    def to(cls, url: str) -> TcpProxy:
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"{url!r} needs a host and a port")
        return cls(parts.hostname, parts.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def cut(self) -> None:
        """Start an outage: drop every open connection and every new one."""
        self._forwarding.clear()
        self._drop_all()

    def stall(self) -> None:
        """Start an outage where nothing answers: open connections are dropped; new ones
        are accepted and never answered, so callers wait for their read timeout."""
        self._stalled.set()
        self._drop_all()

    def restore(self) -> None:
        """End the outage: connections left hanging are dropped (their callers retry), new
        ones are forwarded again."""
        self._forwarding.set()
        if self._stalled.is_set():
            self._stalled.clear()
            self._drop_all()

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self._listener.close()
        self._drop_all()

    def _drop_all(self) -> None:
        with self._lock:
            dropped, self._open = self._open, set()
        for sock in dropped:
            _hard_close(sock)

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._forwarding.is_set():
                self.refused += 1
                _hard_close(client)
                continue
            if self._stalled.is_set():
                with self._lock:
                    self._open.add(client)  # held, unanswered, until restore() or close()
                continue
            self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=CONNECT_TIMEOUT_SECONDS)
        except OSError:
            _hard_close(client)
            return
        upstream.settimeout(None)
        client.settimeout(None)
        with self._lock:
            self._open.update((client, upstream))
        self.accepted += 1
        link = _Link(client, upstream)
        for source, target in ((client, upstream), (upstream, client)):
            threading.Thread(
                target=self._pump, args=(link, source, target), name="proxy-pump", daemon=True
            ).start()

    def _pump(self, link: _Link, source: socket.socket, target: socket.socket) -> None:
        """Copy bytes one way; pass an orderly end on, and tear down both ways on an error."""
        try:
            while data := source.recv(CHUNK):
                target.sendall(data)
            target.shutdown(socket.SHUT_WR)
        except OSError:
            link.broken = True
        if link.finish_one_way():
            self._discard(link)

    def _discard(self, link: _Link) -> None:
        with self._lock:
            mine = {link.client, link.upstream} & self._open
            self._open -= mine
        for sock in mine:
            if link.broken:
                _hard_close(sock)
            else:
                sock.close()


class _Link:
    """A forwarded connection: both sockets, and how many of its two directions ended."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.broken = False
        self._ended = 0
        self._lock = threading.Lock()

    def finish_one_way(self) -> bool:
        """Record one direction's end; True when it was the last one, or the link broke."""
        with self._lock:
            self._ended += 1
            return self._ended == 2 or (self.broken and self._ended == 1)
