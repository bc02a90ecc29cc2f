"""The local executor: tasks are processes forked from a warm server that has already
imported kfp, so a Python step starts in milliseconds instead of a second."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import threading
from multiprocessing.context import ForkServerContext

from flowyard.config import settings
from flowyard.executors import child
from flowyard.executors.base import Resources, Work
from flowyard.executors.pool import ResourcePool

_PRELOAD = ["flowyard.executors.child"]
_KILL_GRACE_S = 5.0


class LocalHandle:
    def __init__(self, process: multiprocessing.process.BaseProcess, req: Resources,
                 gpus: list[int]) -> None:
        self._process = process
        self.req, self.gpus = req, gpus
        self.cancelled = False

    @property
    def pid(self) -> int | None:
        return self._process.pid

    async def wait(self) -> int:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        fd = self._process.sentinel

        def ready() -> None:
            if not done.done():
                done.set_result(None)

        loop.add_reader(fd, ready)
        try:
            await done
        finally:
            loop.remove_reader(fd)
        # The sentinel fires at exit; join collects the status without blocking long.
        await asyncio.to_thread(self._process.join)
        code = self._process.exitcode
        self._process.close()
        return -1 if code is None else code

    def cancel(self) -> None:
        self.cancelled = True
        pid = self._process.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)

        def hard_kill() -> None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

        timer = threading.Timer(_KILL_GRACE_S, hard_kill)
        timer.daemon = True
        timer.start()


class LocalExecutor:
    def __init__(self) -> None:
        cfg = settings()
        self.pool = ResourcePool(cfg.cpus, cfg.memory_bytes, cfg.gpus)
        self._ctx: ForkServerContext = multiprocessing.get_context("forkserver")  # type: ignore[assignment]
        self._ctx.set_forkserver_preload(_PRELOAD)

    def warm_up(self) -> None:
        """Start the fork server now (in the background) instead of at the first task."""
        from multiprocessing import forkserver

        threading.Thread(target=forkserver.ensure_running, daemon=True).start()

    def clamp(self, req: Resources) -> tuple[Resources, str | None]:
        return self.pool.clamp(req)

    async def submit(self, work: Work) -> LocalHandle:
        gpus = await self.pool.acquire(work.resources)
        if work.resources.gpu:
            work.env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
        try:
            process = self._ctx.Process(target=child.run_work, args=(work,), daemon=False)
            await asyncio.to_thread(process.start)
        except BaseException:
            await self.pool.release(work.resources, gpus)
            raise
        return LocalHandle(process, work.resources, gpus)

    async def release(self, handle: LocalHandle) -> None:  # type: ignore[override]
        await self.pool.release(handle.req, handle.gpus)


_shared: LocalExecutor | None = None


def shared_local_executor() -> LocalExecutor:
    global _shared
    if _shared is None:
        _shared = LocalExecutor()
    return _shared
