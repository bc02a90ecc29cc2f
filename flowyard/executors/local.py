"""The local executor: tasks are processes forked from a warm zygote that has already
imported kfp, so a Python step starts in milliseconds instead of a second."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from flowyard.config import settings
from flowyard.executors.base import Resources, Work
from flowyard.executors.pool import ResourcePool
from flowyard.executors.zygote import read_message, write_message

_KILL_GRACE_S = 5.0


class Zygote:
    """The engine's side of the zygote: sends work, hands out exit statuses."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._tokens = itertools.count()
        self._started: dict[int, concurrent.futures.Future[int]] = {}
        self._exits: dict[int, concurrent.futures.Future[int]] = {}

    def ensure_running(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return
            env = dict(os.environ)
            # The zygote imports flowyard from wherever this process did.
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "flowyard.executors.zygote"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
            assert self._proc.stdout is not None
            kind, _pid, _ = read_message(self._proc.stdout)
            if kind != "ready":
                raise RuntimeError("the task zygote did not start")
            threading.Thread(target=self._read, args=(self._proc,), daemon=True,
                             name="flowyard-zygote").start()

    def _exit_future(self, pid: int) -> concurrent.futures.Future[int]:
        # Called with the lock held: an exit can be reported before anyone waits for it.
        fut = self._exits.get(pid)
        if fut is None:
            fut = self._exits[pid] = concurrent.futures.Future()
        return fut

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        while True:
            try:
                message = read_message(proc.stdout)
            except (EOFError, OSError):
                break
            kind = message[0]
            with self._lock:
                if kind == "exited":
                    fut = self._exit_future(message[1])
                    if not fut.done():  # a dead reader thread would lose every later exit
                        fut.set_result(message[2])
                else:
                    fut = self._started.pop(message[1])
                    if kind == "started":
                        fut.set_result(message[2])
                    else:
                        fut.set_exception(OSError(message[2]))
        with self._lock:  # the zygote died: nothing it forked will be reported any more
            for fut in self._started.values():
                fut.set_exception(OSError("the task zygote exited"))
            self._started.clear()
            for fut in self._exits.values():
                if not fut.done():
                    fut.set_result(signal.SIGKILL)  # a wait status meaning "killed"
            if self._proc is proc:
                self._proc = None

    def start(self, work: Work) -> int:
        self.ensure_running()
        token = next(self._tokens)
        started: concurrent.futures.Future[int] = concurrent.futures.Future()
        with self._lock:
            self._started[token] = started
            assert self._proc is not None and self._proc.stdin is not None
            write_message(self._proc.stdin, (token, work))
        pid = started.result()
        with self._lock:
            self._exit_future(pid)
        return pid

    def exit_status(self, pid: int) -> concurrent.futures.Future[int]:
        with self._lock:
            return self._exit_future(pid)

    def forget(self, pid: int) -> None:
        with self._lock:
            self._exits.pop(pid, None)


class LocalHandle:
    def __init__(self, zygote: Zygote, pid: int, req: Resources, gpus: list[int]) -> None:
        self._zygote, self._pid = zygote, pid
        self.req, self.gpus = req, gpus
        self.cancelled = False

    @property
    def pid(self) -> int | None:
        return self._pid

    async def wait(self) -> int:
        # Shielded: a cancelled waiter must not cancel the shared exit future, which the
        # wait() after cancel() still needs and the reader thread fulfils later.
        status = await asyncio.shield(asyncio.wrap_future(self._zygote.exit_status(self._pid)))
        self._zygote.forget(self._pid)
        return os.waitstatus_to_exitcode(status)

    def cancel(self) -> None:
        self.cancelled = True
        pid = self._pid
        _signal_group(pid, signal.SIGTERM)
        timer = threading.Timer(_KILL_GRACE_S, _signal_group, args=(pid, signal.SIGKILL))
        timer.daemon = True
        timer.start()


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        # The child may not have made its own group yet.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    except PermissionError:
        pass


class LocalExecutor:
    def __init__(self) -> None:
        cfg = settings()
        self.pool = ResourcePool(cfg.cpus, cfg.memory_bytes, cfg.gpus)
        self.zygote = Zygote()

    def warm_up(self) -> None:
        """Start the zygote now (in the background) instead of at the first task."""
        threading.Thread(target=self.zygote.ensure_running, daemon=True).start()

    def clamp(self, req: Resources) -> tuple[Resources, str | None]:
        return self.pool.clamp(req)

    async def submit(self, work: Work) -> LocalHandle:
        gpus = await self.pool.acquire(work.resources)
        if work.resources.gpu:
            work.env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
        start = asyncio.ensure_future(asyncio.to_thread(self.zygote.start, work))
        try:
            pid = await asyncio.shield(start)
        except asyncio.CancelledError:
            # Canceled mid-fork: the fork still happens in its thread; stop what it starts.
            with contextlib.suppress(Exception):
                _signal_group(await start, signal.SIGKILL)
            await self.pool.release(work.resources, gpus)
            raise
        except BaseException:
            await self.pool.release(work.resources, gpus)
            raise
        return LocalHandle(self.zygote, pid, work.resources, gpus)

    async def release(self, handle: Any) -> None:
        await self.pool.release(handle.req, handle.gpus)


_shared: LocalExecutor | None = None


def shared_local_executor() -> LocalExecutor:
    global _shared
    if _shared is None:
        _shared = LocalExecutor()
    return _shared
