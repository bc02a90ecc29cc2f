"""Runs the registered reconcilers. It follows the resources table by resourceVersion, so it
holds no truth of its own: started again, it reconciles every object once and goes on.

A write committed in this process wakes it at once (SQLAlchemy's after_commit event of its
sessions), so an applied Pod is reconciled within milliseconds; writes from elsewhere
(another process on the same database) are seen by the poll every POLL_S."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from flowyard.controllers import registry
from flowyard.controllers.context import Context
from flowyard.controllers.objects import Objects, controller_of
from flowyard.controllers.registry import controller_for
from flowyard.executors.base import Executor
from flowyard.resources import kinds
from flowyard.store import Store
from flowyard.store import errors as store_errors
from flowyard.store.resources import Key, ResourceStore, to_object
from flowyard.store.schema import Resource

log = logging.getLogger("flowyard.controllers")
POLL_S = 0.3
COMPACT_EVERY_S = 600.0  # the watch history is trimmed this often
ERROR_RETRY_S = 5.0


def _default_executor() -> Executor:
    from flowyard.executors import get_executor

    return get_executor()


class ControllerManager:
    def __init__(self, store: Store, services: Any = None,
                 executor: Executor | None = None) -> None:
        self.resources = ResourceStore(store)
        self.ctx = Context(store, services, executor or _default_executor(), Objects(store),
                           self.enqueue, {})
        self.since = 0
        self._queue: dict[Key, float] = {}  # object -> when it wants another look
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # waking ------------------------------------------------------------------------------
    def enqueue(self, key: Key, after_s: float = 0.0) -> None:
        when = time.monotonic() + after_s
        if self._queue.get(key, float("inf")) > when:
            self._queue[key] = when
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None and self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake.set)

    def _committed(self, session: Session) -> None:
        # Only this store's commits (an in-process client may hold others).
        if session.get_bind() is self.ctx.store.engine:
            self._poke()

    async def run(self, stop: asyncio.Event) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        # After the commit, not before (the engine's "commit" event): a wake-up before it
        # would read the table before the write is visible.
        event.listen(Session, "after_commit", self._committed)
        compacted = 0.0
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self.step()
                    if time.monotonic() - compacted > COMPACT_EVERY_S:
                        await asyncio.to_thread(self.resources.compact)
                        compacted = time.monotonic()
                except RuntimeError as exc:
                    if "after shutdown" in str(exc):
                        return  # the interpreter is exiting (an in-process client's loop)
                    log.exception("controller pass failed; trying again")
                except Exception:
                    log.exception("controller pass failed; trying again")
                await self._sleep(stop)
        finally:
            with contextlib.suppress(Exception):
                event.remove(Session, "after_commit", self._committed)
            await self._shutdown()
            with contextlib.suppress(Exception):
                await self.ctx.objects.flush_events()

    async def _sleep(self, stop: asyncio.Event) -> None:
        assert self._wake is not None
        timeout = POLL_S
        if self._queue:
            timeout = max(0.0, min(timeout, min(self._queue.values()) - time.monotonic()))
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        _, pending = await asyncio.wait(waits, timeout=timeout,
                                        return_when=asyncio.FIRST_COMPLETED)
        for fut in pending:
            fut.cancel()

    async def _shutdown(self) -> None:
        for key in list(registry._registered):
            ctrl = registry._registered.get(key)
            stop = getattr(ctrl, "shutdown", None)
            if stop is not None:
                try:
                    await stop(self.ctx)
                except Exception:
                    log.exception("%s: shutdown failed", key)

    # one pass ----------------------------------------------------------------------------
    async def step(self) -> None:
        while True:
            rows = await asyncio.to_thread(self.resources.changes, self.since)
            for row in rows:
                self.since = max(self.since, row.resource_version)
                await self._handle(row)
                await self._wake_watchers(row)
            if len(rows) < 500:
                break
        now = time.monotonic()
        for key, when in list(self._queue.items()):
            if when > now:
                continue
            del self._queue[key]
            try:
                row = await asyncio.to_thread(self.resources.get, key)
            except store_errors.NotFound:
                continue
            await self._handle(row)

    async def _wake_watchers(self, row: Resource) -> None:
        watchers = registry.WATCHES.get((row.group, row.kind))
        if not watchers:
            return
        obj = to_object(row)
        owner = controller_of(obj)
        for group, kind in watchers:
            if owner is not None and owner.get("kind") == kind and \
                    owner.get("apiVersion", "").rpartition("/")[0] == group:
                info = kinds.kind_for(owner["apiVersion"], kind)
                self.enqueue(Key(group, info.plural, row.namespace, owner["name"]))
            ctrl = controller_for(group, kind)
            related = getattr(ctrl, "related", None)
            if related is not None:
                for key in await related(obj, self.ctx):
                    self.enqueue(key)

    async def _handle(self, row: Resource) -> None:
        ctrl = controller_for(row.group, row.kind)
        if ctrl is None:
            return
        obj = to_object(row)
        name, ns = row.name, row.namespace
        key = Key(row.group, row.plural, ns, name)
        if row.deleted:
            try:
                events = await ctrl.finalize(obj, self.ctx)
            except Exception:
                log.exception("%s %s/%s: finalize failed", row.kind, ns, name)
                return
            await self._events(row.kind, ns, name, events)
            return
        try:
            outcome = await ctrl.reconcile(obj, self.ctx)
        except Exception as exc:
            log.exception("%s %s/%s: reconcile failed", row.kind, ns, name)
            await self._events(row.kind, ns, name, [
                ("Warning", "ReconcileError", f"{type(exc).__name__}: {exc}")])
            self.enqueue(key, ERROR_RETRY_S)
            return
        status = outcome.status
        if status is not None and status == (row.status or {}):
            status = None
        if outcome.events or status is not None:
            # The events, then the status, in one trip off the loop (not one per event): a
            # client that sees the new status finds the events that explain it.
            await asyncio.to_thread(self._record, row, key, outcome.events, status)
        if outcome.requeue_after is not None:
            self.enqueue(key, outcome.requeue_after)

    def _record(self, row: Resource, key: Key, events: list[tuple[str, str, str]],
                status: dict[str, Any] | None) -> None:
        self._add_events(row.kind, row.namespace, row.name, events)
        if status is not None:
            # Changed meanwhile? That change brings the object back to us.
            with contextlib.suppress(store_errors.Conflict, store_errors.NotFound):
                self.resources.write(key, row.resource_version, status=status)

    async def _events(self, kind: str, ns: str, name: str,
                      events: list[tuple[str, str, str]]) -> None:
        if events:
            await asyncio.to_thread(self._add_events, kind, ns, name, events)

    def _add_events(self, kind: str, ns: str, name: str,
                    events: list[tuple[str, str, str]]) -> None:
        for type_, reason, message in events:
            self.resources.add_event(kind, ns, name, reason, message, type_)
