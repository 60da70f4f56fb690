"""Watching a producer's live feed from a test, as a dashboard would."""

from __future__ import annotations

import contextlib
import json
import threading
from contextlib import ExitStack
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support import wait_for


class FeedWatcher:
    """Reads one replica's /feed on a thread: the ids of messages it saw done, and its feed
    queue's name from the stats frames."""

    def __init__(self, url: str) -> None:
        self.done: set[str] = set()
        self.feed_queue: dict[str, Any] | None = None
        self._stack = ExitStack()
        self.socket: ClientConnection = self._stack.enter_context(
            connect(url.replace("http", "ws", 1) + "/feed", open_timeout=10)
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            for text in self.socket:
                frame = json.loads(text)
                if frame.get("kind") == "event" and frame.get("stage") == "done":
                    self.done.add(str(frame["id"]))
                elif frame.get("kind") == "stats":
                    self.feed_queue = frame.get("feed_queue")

    def close(self) -> None:
        self._stack.close()
        self._thread.join(5)


def subscribed_name(watcher: FeedWatcher) -> str:
    wait_for(lambda: watcher.feed_queue is not None, timeout=20, what="the feed queue subscribed")
    assert watcher.feed_queue is not None
    return str(watcher.feed_queue["name"])


def wait_all_done(watchers: list[FeedWatcher], ids: set[str], timeout: float = 30) -> None:
    """Wait until every watcher's feed showed every one of `ids` done."""
    for watcher in watchers:
        wait_for(
            lambda w=watcher: ids <= w.done,  # type: ignore[misc]
            timeout=timeout,
            what=f"{len(ids)} done on every feed: {[len(w.done & ids) for w in watchers]}",
        )
