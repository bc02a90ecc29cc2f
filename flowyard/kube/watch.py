"""Watches that hold no thread: one hub per store and event loop follows the change log (woken
at once by writes in this process, and polling for writers in other processes; the database is
the truth) and fans each change out to the watches' queues. A watch is an async generator that
waits on its queue, so 100 idle watches cost 100 small queues, not 100 worker threads."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from flowyard.store import Store
from flowyard.store.resources import ResourceStore, on_change
from flowyard.store.schema import ResourceChange

POLL_S = 0.25  # how soon a write by another process reaches a watch here
QUEUE_MAX = 10_000  # a watcher this far behind is ended; it re-watches from its last version


def max_per_client() -> int:
    return int(os.environ.get("FLOWYARD_MAX_WATCHES_PER_CLIENT") or 100)


def max_total() -> int:
    return int(os.environ.get("FLOWYARD_MAX_WATCHES") or 1000)


class TooManyWatches(Exception):
    pass


@dataclass(eq=False)
class Subscription:
    client: str
    queue: asyncio.Queue[ResourceChange | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_MAX))


class WatchHub:
    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop) -> None:
        self.rs = ResourceStore(store)
        self.loop = loop
        self.subs: set[Subscription] = set()
        self.position = self.rs.current_version()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        on_change(self._written)

    def _written(self, rv: int) -> None:
        # Called from whichever thread wrote; hand the wake-up to the hub's loop.
        if rv > self.position and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._wake.set)

    def subscribe(self, client: str) -> Subscription:
        if len(self.subs) >= max_total():
            raise TooManyWatches(f"{len(self.subs)} watches are open on this server (at most "
                                 f"{max_total()}, FLOWYARD_MAX_WATCHES)")
        if sum(s.client == client for s in self.subs) >= max_per_client():
            raise TooManyWatches(f"this client has {max_per_client()} watches open (at most "
                                 "FLOWYARD_MAX_WATCHES_PER_CLIENT); close some first")
        sub = Subscription(client)
        self.subs.add(sub)
        if self._task is None or self._task.done():
            self._task = self.loop.create_task(self._follow(), name="watch-hub")
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subs.discard(sub)

    async def _follow(self) -> None:
        while self.subs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            self._wake.clear()
            try:
                changes = await asyncio.to_thread(self.rs.all_history, self.position)
            except Exception:
                await asyncio.sleep(POLL_S)
                continue
            for change in changes:
                self.position = max(self.position, change.resource_version)
                for sub in list(self.subs):
                    try:
                        sub.queue.put_nowait(change)
                    except asyncio.QueueFull:
                        self.subs.discard(sub)
                        with contextlib.suppress(asyncio.QueueEmpty):
                            sub.queue.get_nowait()
                        sub.queue.put_nowait(None)  # tells the watch to end
            if len(changes) >= 1000:
                self._wake.set()  # more to read


_hubs: dict[tuple[int, int], WatchHub] = {}


def hub(store: Store) -> WatchHub:
    loop = asyncio.get_running_loop()
    key = (id(store), id(loop))
    if key not in _hubs:
        _hubs[key] = WatchHub(store, loop)
    return _hubs[key]


Match = Callable[[ResourceChange], bool]


async def changes(store: Store, sub: Subscription, since: int, match: Match,
                  deadline: float, bookmark_s: float | None
                  ) -> AsyncIterator[ResourceChange | int]:
    """The changes after `since` that `match` accepts, until `deadline` (loop time); yields
    an int (the current resourceVersion) when a bookmark is due."""
    rs = ResourceStore(store)
    loop = asyncio.get_running_loop()
    # Catch up from the log first; the subscription (taken before) holds what comes after.
    while True:
        backlog = await asyncio.to_thread(rs.all_history, since)
        for change in backlog:
            since = change.resource_version
            if match(change):
                yield change
        if len(backlog) < 1000:
            break
    last_bookmark = loop.time()
    while True:
        now = loop.time()
        if now >= deadline:
            return
        wait = deadline - now
        if bookmark_s:
            wait = min(wait, max(last_bookmark + bookmark_s - now, 0.0))
        try:
            change = await asyncio.wait_for(sub.queue.get(), wait)
        except TimeoutError:
            if bookmark_s and loop.time() - last_bookmark >= bookmark_s:
                last_bookmark = loop.time()
                yield since
            continue
        if change is None:
            return
        if change.resource_version <= since:
            continue
        since = change.resource_version
        if match(change):
            yield change


def event_of(change: ResourceChange) -> dict[str, Any]:
    return {"type": change.type, "object": change.object}
