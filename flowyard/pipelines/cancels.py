"""Noticing cancel requests. A run is canceled by setting a flag in the store (from the CLI,
the API, another process); one poller per event loop and store checks all the runs driven
there with a single query, so a server with hundreds of runs in flight asks once, not once
per run."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select

from flowyard.store import Store
from flowyard.store.schema import Run

POLL_S = 0.3
log = logging.getLogger("flowyard.cancels")


class CancelWatcher:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.runs: dict[str, asyncio.Task[Any]] = {}
        self._poller: asyncio.Task[None] | None = None

    def watch(self, run_id: str, task: asyncio.Task[Any]) -> None:
        self.runs[run_id] = task
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    def forget(self, run_id: str) -> None:
        self.runs.pop(run_id, None)

    def _requested(self, ids: list[str]) -> list[str]:
        with self.store.session() as s:
            return list(s.scalars(select(Run.id).where(Run.id.in_(ids),
                                                       Run.cancel_requested.is_(True))))

    async def _poll(self) -> None:
        # Nothing may end this loop but the last run leaving: a poller that died (a lost
        # database connection, an error in one cancel) used to leave every run uncancellable.
        while self.runs:
            await asyncio.sleep(POLL_S)
            if not self.runs:
                break
            try:
                requested = await asyncio.to_thread(self._requested, list(self.runs))
            except Exception:
                log.exception("cannot read cancel requests; trying again")
                continue
            for run_id in requested:
                task = self.runs.get(run_id)
                try:
                    if task is not None and not task.cancelling():
                        task.cancel()
                    self.runs.pop(run_id, None)
                except Exception:
                    log.exception("run %s: cancel failed; trying again", run_id)


_watchers: dict[tuple[int, int], CancelWatcher] = {}


def watcher_for(store: Store) -> CancelWatcher:
    key = (id(asyncio.get_running_loop()), id(store))
    w = _watchers.get(key)
    if w is None:
        # Forget watchers of event loops that are gone (each asyncio.run makes a new one).
        for k in [k for k, v in _watchers.items() if not v.runs]:
            del _watchers[k]
        w = _watchers[key] = CancelWatcher(store)
    return w
