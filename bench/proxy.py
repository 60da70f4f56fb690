"""A TCP proxy that delays every client-to-server chunk by a fixed time: SQS at a distance.

Run as `python -m bench.proxy --port P --upstream-port U --delay-ms 20`. Each chunk a client
sends is forwarded `delay` after it arrived, in order per connection, so a request takes
`delay` longer to reach the endpoint however it is split into chunks, and requests pipelined
on one connection are not delayed one after the other. Answers flow back undelayed.

It runs in its own process so that its event loop never waits for the benchmark's client
threads to release the GIL: the delay it adds is the one asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from scripts.processes import Child, free_port, port_open, start, stopped_on_failure, wait_until

HOST = "127.0.0.1"
STARTUP_SECONDS = 30.0
CHUNK = 65_536

ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _delayed_pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    """Forward what `reader` gives, each chunk `delay` after it arrived, in arrival order."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def forward() -> None:
        while True:
            due, chunk = await chunks.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                return
            writer.write(chunk)
            await writer.drain()

    forwarder = asyncio.create_task(forward())
    try:
        while chunk := await reader.read(CHUNK):
            chunks.put_nowait((loop.time() + delay, chunk))
    finally:
        chunks.put_nowait((loop.time() + delay, b""))
        with contextlib.suppress(OSError):
            await forwarder


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(CHUNK):
        writer.write(chunk)
        await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def handler(upstream_port: int, delay: float) -> ConnectionHandler:
    """The per-connection coroutine: connect upstream, pump both ways until either side ends."""

    async def connect(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(HOST, upstream_port)
        except OSError:
            await _close(client_writer)
            return
        upstream = asyncio.create_task(_delayed_pipe(client_reader, server_writer, delay))
        downstream = asyncio.create_task(_pipe(server_reader, client_writer))
        await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        for task in (upstream, downstream):
            task.cancel()
        await asyncio.gather(upstream, downstream, return_exceptions=True)
        await _close(server_writer)
        await _close(client_writer)

    return connect


async def serve(port: int, upstream_port: int, delay: float) -> None:
    server = await asyncio.start_server(handler(upstream_port, delay), HOST, port)
    async with server:
        await server.serve_forever()


def start_proxy(
    upstream_port: int, delay_ms: float, env: Mapping[str, str], log_dir: Path
) -> tuple[Child, int]:
    """Start the proxy in front of `upstream_port`; returns the process and its port."""
    port = free_port()
    argv = ["-m", "bench.proxy", "--port", str(port), "--upstream-port", str(upstream_port)]
    child = start("proxy", [*argv, "--delay-ms", str(delay_ms)], env, log_dir)
    with stopped_on_failure(child):
        wait_until(lambda: port_open(port), child, STARTUP_SECONDS, f"the proxy on port {port}")
    return child, port


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Delay every client-to-server chunk.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.upstream_port, args.delay_ms / 1000))


if __name__ == "__main__":
    main()
