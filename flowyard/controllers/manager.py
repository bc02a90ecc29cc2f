"""Runs the registered reconcilers. It follows the resources table by resourceVersion, so it
holds no truth of its own: started again, it reconciles every object once and goes on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from flowyard.controllers.registry import controller_for
from flowyard.store import Store
from flowyard.store import errors as store_errors
from flowyard.store.resources import Key, ResourceStore, to_object
from flowyard.store.schema import Resource

log = logging.getLogger("flowyard.controllers")
POLL_S = 0.3
COMPACT_EVERY_S = 600.0  # the watch history is trimmed this often


@dataclass
class Context:
    store: Store
    services: Any  # flowyard.services.context.Services; typed loosely to keep imports one-way


class ControllerManager:
    def __init__(self, store: Store, services: Any = None) -> None:
        self.ctx = Context(store, services)
        self.resources = ResourceStore(store)
        self.since = 0
        self._requeue: dict[str, tuple[float, Key]] = {}  # uid -> (when, key)

    async def run(self, stop: asyncio.Event) -> None:
        compacted = 0.0
        while not stop.is_set():
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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_S)

    async def step(self) -> None:
        rows = await asyncio.to_thread(self.resources.changes, self.since)
        for row in rows:
            self.since = max(self.since, row.resource_version)
            await self._handle(row)
        now = time.monotonic()
        for uid, (when, key) in list(self._requeue.items()):
            if when <= now:
                del self._requeue[uid]
                try:
                    row = await asyncio.to_thread(self.resources.get, key)
                except store_errors.NotFound:
                    continue
                await self._handle(row)

    async def _handle(self, row: Resource) -> None:
        ctrl = controller_for(row.group, row.kind)
        if ctrl is None:
            return
        obj = to_object(row)
        name, ns = row.name, row.namespace
        if row.deleted:
            events = await ctrl.finalize(obj, self.ctx)
            await self._events(row.kind, ns, name, events)
            return
        try:
            outcome = await ctrl.reconcile(obj, self.ctx)
        except Exception as exc:
            log.exception("%s %s/%s: reconcile failed", row.kind, ns, name)
            await self._events(row.kind, ns, name, [
                ("Warning", "ReconcileError", f"{type(exc).__name__}: {exc}")])
            self._requeue[row.uid] = (time.monotonic() + 5.0, Key(row.group, row.plural, ns, name))
            return
        await self._events(row.kind, ns, name, outcome.events)
        if outcome.status is not None and outcome.status != (row.status or {}):
            key = Key(row.group, row.plural, ns, name)
            # Changed meanwhile? That change brings the object back to us.
            with contextlib.suppress(store_errors.Conflict, store_errors.NotFound):
                await asyncio.to_thread(self.resources.write, key, row.resource_version,
                                        status=outcome.status)
        if outcome.requeue_after is not None:
            self._requeue[row.uid] = (time.monotonic() + outcome.requeue_after,
                                      Key(row.group, row.plural, ns, name))

    async def _events(self, kind: str, ns: str, name: str,
                      events: list[tuple[str, str, str]]) -> None:
        for type_, reason, message in events:
            await asyncio.to_thread(self.resources.add_event, kind, ns, name, reason, message,
                                    type_)
