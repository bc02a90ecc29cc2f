"""Drives recorded runs as asyncio tasks in one event loop: the server's loop under
`flowyard up`, or a background thread's loop for the in-process client. Safe to call from
any thread (FastAPI runs plain handlers in a thread pool)."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from flowyard.store import Store

log = logging.getLogger("flowyard.launcher")


class Launcher:
    def __init__(self, loop: asyncio.AbstractEventLoop, store: Store) -> None:
        self.loop = loop
        self.store = store
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._lock = threading.Lock()

    def start(self, run_id: str, resume: bool = False) -> None:
        """Drive `run_id` to its end unless this launcher already does."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._start(run_id, resume)
        else:
            self.loop.call_soon_threadsafe(self._start, run_id, resume)

    def owns(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._tasks

    def active(self) -> list[str]:
        with self._lock:
            return list(self._tasks)

    def _start(self, run_id: str, resume: bool) -> None:
        with self._lock:
            if run_id in self._tasks:
                return
            task = self.loop.create_task(self._drive(run_id, resume), name=f"run-{run_id}")
            self._tasks[run_id] = task

    async def _drive(self, run_id: str, resume: bool) -> None:
        from flowyard.pipelines.runner import drive

        try:
            await drive(run_id, resume=resume, store=self.store)
        except asyncio.CancelledError:
            raise  # the server is stopping; the run stays RUNNING and is resumed next start
        except Exception as exc:
            # drive() records what it can; a failure outside it must still end the run.
            log.exception("run %s: the engine failed", run_id)
            from flowyard.store.store import TERMINAL_RUN_STATES, now

            row = self.store.get_run(run_id)
            if row is not None and row.state not in TERMINAL_RUN_STATES:
                self.store.update_run(run_id, state="FAILED", finished_at=now(), driver=None,
                                      error=f"the engine failed: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._tasks.pop(run_id, None)

    async def stop(self) -> None:
        """Stop driving without ending the runs: drive() records a cancellation as CANCELED,
        so runs nobody asked to cancel are put back to RUNNING with no driver, and the next
        start resumes them (their finished tasks are kept)."""
        with self._lock:
            owned = dict(self._tasks)
        for t in owned.values():
            t.cancel()
        await asyncio.gather(*owned.values(), return_exceptions=True)
        for run_id in owned:
            if not self.store.cancel_requested(run_id):
                self.store.update_run(run_id, state="RUNNING", driver=None, error=None,
                                      finished_at=None)


class BackgroundLoop:
    """An event loop in a daemon thread: where the in-process client drives runs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="flowyard-runs")
        self.thread.start()
