"""The local executor: each work is forked from a warm zygote, which supervises it (shim.py):
the Python zygote has already imported kfp, so a Python step starts in milliseconds instead of
a second; a small one starts commands. Works outlive the engine (their zygote stays until they
end): a restarted engine adopts them (`adopt`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

from flowyard.config import settings
from flowyard.executors import cgroups, logs, network, state
from flowyard.executors.base import Exit, LogRef, Resources, Sandbox, Work
from flowyard.executors.pool import ResourcePool
from flowyard.executors.shim import Launch
from flowyard.executors.zygote import read_message, write_message

T = TypeVar("T")

_KILL_GRACE_S = 5.0
_POLL_S = 0.1
_LOG_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,252}")


class Zygote:
    """The engine's side of one zygote: sends work, gets back the records of what it started
    and, later, how each ended. `kind` is "python" (kfp preloaded, for Python steps) or "exec"
    (small, for commands)."""

    def __init__(self, kind: str = "python") -> None:
        self.kind = kind
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._tokens = itertools.count()
        self._started: dict[int, concurrent.futures.Future[dict[str, Any]]] = {}
        self._exited: dict[int, concurrent.futures.Future[Exit]] = {}

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def ensure_running(self) -> None:
        with self._lock:
            if self.running():
                return
            env = dict(os.environ)
            # The zygote imports flowyard from wherever this process did.
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
            # A session of its own: a signal to the engine's process group (Ctrl-C, a kill of
            # the group) does not reach the works it supervises.
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "flowyard.executors.zygote", self.kind],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
                start_new_session=True)
            assert self._proc.stdout is not None
            kind, _pid, _ = read_message(self._proc.stdout)
            if kind != "ready":
                raise RuntimeError("the task zygote did not start")
            threading.Thread(target=self._read, args=(self._proc,), daemon=True,
                             name=f"flowyard-zygote-{self.kind}").start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        while True:
            try:
                kind, token, value = read_message(proc.stdout)
            except (EOFError, OSError):
                break
            with self._lock:
                fut = (self._exited if kind == "exited" else self._started).pop(token, None)
                if kind == "failed":
                    self._exited.pop(token, None)
            if fut is None or fut.done():
                continue
            if kind == "failed":
                fut.set_exception(OSError(value))
            else:
                fut.set_result(value)
        with self._lock:  # the zygote died; what it started lives on under its records
            for pending in (self._started, self._exited):
                for fut in pending.values():
                    if not fut.done():
                        fut.set_exception(OSError("the task zygote exited"))
                pending.clear()
            if self._proc is proc:
                self._proc = None

    def start(self, work: Work, launch: Launch
              ) -> tuple[concurrent.futures.Future[dict[str, Any]],
                         concurrent.futures.Future[Exit]]:
        """Send `work`: (its record once it runs, its Exit once recorded). Starts the zygote
        if needed (blocking: call from a thread unless `running()`)."""
        self.ensure_running()
        token = next(self._tokens)
        started: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        exited: concurrent.futures.Future[Exit] = concurrent.futures.Future()
        with self._lock:
            self._started[token] = started
            self._exited[token] = exited
            assert self._proc is not None and self._proc.stdin is not None
            try:
                write_message(self._proc.stdin, (token, work, launch))
            except OSError as exc:
                self._started.pop(token, None)
                self._exited.pop(token, None)
                self._proc.kill()  # a next start makes a new one
                self._proc.wait()
                raise ZygoteGone(f"the task zygote is gone: {exc}") from exc
        return started, exited


class ZygoteGone(OSError):
    pass


def _settled(cf: concurrent.futures.Future[T]) -> asyncio.Future[T]:
    """An asyncio future that follows `cf` (set by the zygote's reader thread). Unlike
    asyncio.wrap_future, cancelling it leaves `cf` alone (a handle's exit stays readable)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle() -> None:
        if fut.done():
            return
        exc = cf.exception()
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(cf.result())

    def done(_: concurrent.futures.Future[T]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle)

    cf.add_done_callback(done)
    return fut


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class LocalHandle:
    """A work under its supervisor, found by its state folder (also after a restart)."""

    def __init__(self, folder: Path, record: dict[str, Any], req: Resources,
                 gpus: list[int], exited: concurrent.futures.Future[Exit] | None = None
                 ) -> None:
        self.folder = folder
        self.task_id = str(record.get("task_id", folder.name))
        self._sup_pid = int(record.get("pid") or 0)
        self._sup_start = record.get("pid_start")
        self._pid = int(record.get("work_pid") or 0)
        self._work_start = record.get("work_start")
        self.req, self.gpus = req, gpus
        self.cancelled = False
        self._exit: Exit | None = None
        # The supervisor's word that the exit is recorded (None for an adopted work).
        self._exited = exited
        self._waiter: asyncio.Future[Exit] | None = None

    @property
    def pid(self) -> int | None:
        return self._pid or None

    def _supervisor_alive(self) -> bool:
        return state.is_alive(self._sup_pid, self._sup_start)  # type: ignore[arg-type]

    def _work_alive(self) -> bool:
        return state.is_alive(self._pid, self._work_start)  # type: ignore[arg-type]

    def exit_now(self) -> Exit | None:
        if self._exit is None:
            cf = self._exited
            if cf is not None and cf.done() and cf.exception() is None:
                self._exit = cf.result()
            else:
                self._exit = state.read_exit(self.folder)
        return self._exit

    def alive(self) -> bool:
        return self.exit_now() is None and self._supervisor_alive()

    async def wait(self) -> int:
        return (await self.wait_exit()).code

    async def wait_exit(self) -> Exit:
        found = self.exit_now()
        if found is not None:
            return found
        if self._waiter is None:
            self._waiter = asyncio.ensure_future(self._wait_for_exit())
        # Shielded: a cancelled waiter must not cancel the shared wait, which a wait() after
        # cancel() still needs.
        return await asyncio.shield(self._waiter)

    async def _wait_for_exit(self) -> Exit:
        if self._exited is not None:
            # The supervisor sends the exit once exit.json is written.
            with contextlib.suppress(OSError):
                self._exit = await _settled(self._exited)
                return self._exit
        self._exit = await self._watch_records()
        return self._exit

    async def _watch_records(self) -> Exit:
        """An adopted work (or one whose zygote died): pidfds of the work and its supervisor
        say when something ended; exit.json says how."""
        loop = asyncio.get_running_loop()
        woke = asyncio.Event()
        fds: list[int] = []

        def fired(fd: int) -> None:
            loop.remove_reader(fd)  # a pidfd stays readable once its process ended
            woke.set()

        for pid, alive in ((self._sup_pid, self._supervisor_alive),
                           (self._pid, self._work_alive)):
            with contextlib.suppress(AttributeError, OSError):
                fd = os.pidfd_open(pid)
                if not alive():  # the pid is another process's by now
                    os.close(fd)
                    continue
                fds.append(fd)
                loop.add_reader(fd, fired, fd)
        try:
            while True:
                found = state.read_exit(self.folder)
                if found is not None:
                    return found
                if not self._supervisor_alive():
                    break
                if self._work_alive():
                    woke.clear()
                    # Pidfds wake this at once; the timeout covers a system without them.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(woke.wait(), 1.0 if fds else _POLL_S)
                else:
                    # Ended: its supervisor is draining the output and recording the end.
                    await asyncio.sleep(0.01)
        finally:
            for fd in fds:
                loop.remove_reader(fd)
                os.close(fd)
        found = state.read_exit(self.folder)
        if found is None:
            # The supervisor died without recording an end (it was SIGKILLed): what it ran
            # is stopped, and the work reads as killed.
            if self._work_alive():
                _signal_group(self._pid, signal.SIGKILL)
            found = Exit(137, signal.SIGKILL, False, None, time.time())
        return found

    def cancel(self, grace_s: float = _KILL_GRACE_S) -> None:
        self.cancelled = True
        if self.exit_now() is not None or not self._work_alive():
            return
        _signal_group(self._pid, signal.SIGTERM)

        def kill() -> None:
            if self.exit_now() is None and self._work_alive():
                _signal_group(self._pid, signal.SIGKILL)

        timer = threading.Timer(max(grace_s, 0.0), kill)
        timer.daemon = True
        timer.start()


class LocalExecutor:
    def __init__(self) -> None:
        cfg = settings()
        self.pool = ResourcePool(cfg.cpus, cfg.memory_bytes, cfg.gpus)
        self.zygote = Zygote("python")  # KFP's Python steps, forked with kfp imported
        self.exec_zygote = Zygote("exec")  # commands: a small process forks faster

    def warm_up(self) -> None:
        """Start the zygotes now (in the background) instead of at the first task."""
        for zygote in (self.zygote, self.exec_zygote):
            threading.Thread(target=zygote.ensure_running, daemon=True).start()

    # admission ---------------------------------------------------------------------
    def clamp(self, resources: Resources) -> tuple[Resources, str | None]:
        return self.pool.clamp(resources)

    def fits(self, resources: Resources) -> str | None:
        """None if `resources` are free now, else why the work would wait (Pending)."""
        return self.pool.why_not(resources)

    # paths -------------------------------------------------------------------------
    @staticmethod
    def _home() -> Path:
        return settings().home

    def log_file(self, ref: LogRef) -> Path:
        """Where a LogRef's log lies on this machine. ("runs", RUN, *TASK-PATH) is a KFP
        task's log (logs/RUN/PATH.log); anything else is logs/PART/.../LAST.log."""
        parts = list(ref.parts)
        if not parts or any(not _LOG_PART.fullmatch(p) for p in parts):
            raise ValueError(f"log reference {ref.parts!r}: each part must be a name of "
                             "letters, digits, '.', '_' or '-', not starting with '.'")
        if parts[0] == "runs" and len(parts) >= 3:
            parts = parts[1:]
        return settings().logs_dir.joinpath(*parts[:-1]) / f"{parts[-1]}.log"

    def _log_of(self, work: Work) -> Path:
        if work.log_path:
            return Path(work.log_path)
        if work.log is not None:
            return self.log_file(work.log)
        raise ValueError(f"work {work.task_id}: neither log nor log_path is set")

    # lifecycle ---------------------------------------------------------------------
    def _launch(self, work: Work, folder: Path, log: Path) -> Launch:
        cap = work.log_policy.max_bytes or logs.max_log_bytes()
        memory = cgroups.plan(work.task_id, work.resources.memory_limit)
        join = None
        if work.sandbox:
            join = network.join_for(self._sandboxes(), work.sandbox)
        return Launch(str(folder), str(log), cap, list(work.log_policy.mask), memory, join)

    def _prepare_log(self, work: Work, log: Path, folder: Path) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        meta = state.read_json(logs.meta_path(log))
        if meta is not None and meta.get("task_id") != work.task_id and log.exists():
            # Another work wrote this log before (a container's previous run): keep it as
            # `previous`, as the kubelet does for `kubectl logs --previous`.
            os.replace(log, logs.previous_path(log))
            with contextlib.suppress(FileNotFoundError):
                os.replace(logs.index_path(log), logs.index_path(logs.previous_path(log)))
        state.write_json(logs.meta_path(log), {"task_id": work.task_id, "state_dir": str(folder),
                                               "at": time.time()}, durable=False)

    async def submit(self, work: Work) -> LocalHandle:
        folder = state.state_dir(self._home(), work.task_id)
        log = self._log_of(work)
        gpus = await self.pool.acquire(work.resources)
        try:
            if work.resources.gpu:
                work.env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
            work.gpus = gpus
            self._clear_previous(folder)
            folder.mkdir(parents=True)
            self._prepare_log(work, log, folder)
            launch = self._launch(work, folder, log)
        except BaseException:
            await self.pool.release(work.resources, gpus)
            raise
        zygote = self.zygote if work.python is not None else self.exec_zygote
        try:
            for again in (True, False):
                if not zygote.running():
                    await asyncio.to_thread(zygote.ensure_running)
                try:
                    started_cf, exited = zygote.start(work, launch)
                    break
                except ZygoteGone:  # it died since it was last used: once more, with a new one
                    if not again:
                        raise
        except BaseException:
            await self.pool.release(work.resources, gpus)
            raise
        started = _settled(started_cf)
        try:
            record = await asyncio.shield(started)
        except asyncio.CancelledError:
            # Canceled mid-fork: the fork still happens; stop what it starts.
            with contextlib.suppress(Exception):
                record = await started
                _signal_group(int(record["work_pid"]), signal.SIGKILL)
            await self.pool.release(work.resources, gpus)
            raise
        except BaseException:
            await self.pool.release(work.resources, gpus)
            raise
        return LocalHandle(folder, record, work.resources, gpus, exited)

    def _clear_previous(self, folder: Path) -> None:
        if not folder.exists():
            return
        record = state.read_json(folder / state.SUPERVISOR)
        if (record is not None and not (folder / state.EXIT).exists()
                and state.is_alive(record.get("pid"), record.get("pid_start"))):
            raise RuntimeError(f"work {folder.name} is already running (pid "
                               f"{record.get('work_pid')}); adopt it instead of starting it "
                               "twice")
        shutil.rmtree(folder, ignore_errors=True)

    async def adopt(self, work: Work) -> LocalHandle | None:
        folder = state.state_dir(self._home(), work.task_id)
        record = state.read_json(folder / state.SUPERVISOR)
        if record is None:
            return None
        handle = LocalHandle(folder, record, work.resources, [])
        if handle.exit_now() is None and not handle._supervisor_alive():
            # Its supervisor is gone and left no exit: nobody would record what the work does,
            # so it is stopped and counts as never having finished.
            if handle._work_alive():
                _signal_group(handle._pid, signal.SIGKILL)
            shutil.rmtree(folder, ignore_errors=True)
            return None
        handle.gpus = self.pool.take(work.resources, list(record.get("gpus") or []))
        return handle

    async def release(self, handle: LocalHandle) -> None:  # type: ignore[override]
        """Give back the resources, and forget the work's record once it has ended (call
        after recording its exit: a later adopt() finds nothing)."""
        await self.pool.release(handle.req, handle.gpus)
        handle.req, handle.gpus = Resources(cpu=0), []
        if handle.exit_now() is not None:
            # Renamed at once (adopt() and a next start of the same id see nothing), deleted
            # off the task's path.
            trash = handle.folder.with_name(f".gone-{handle.folder.name}-{time.time_ns()}")
            try:
                os.replace(handle.folder, trash)
            except OSError:
                return
            asyncio.get_running_loop().run_in_executor(
                None, functools.partial(shutil.rmtree, trash, ignore_errors=True))

    # logs --------------------------------------------------------------------------
    def read_log(self, ref: LogRef, *, follow: bool = False, tail: int | None = None,
                 since: float | None = None, timestamps: bool = False,
                 previous: bool = False) -> AsyncIterator[bytes]:
        path = self.log_file(ref)
        if previous:
            return logs.aiter_log(logs.previous_path(path), tail=tail, since=since,
                                  timestamps=timestamps)
        ended = (lambda: logs.writer_ended(path)) if follow else None
        return logs.aiter_log(path, ended=ended, tail=tail, since=since, timestamps=timestamps)

    # sandboxes ---------------------------------------------------------------------
    def _sandboxes(self) -> network.Sandboxes:
        return network.Sandboxes(self._home() / "run" / "sandboxes")

    async def create_sandbox(self, sandbox_id: str, hostname: str) -> Sandbox:
        rec = await asyncio.to_thread(self._sandboxes().create, sandbox_id, hostname)
        return rec.sandbox()

    async def set_hosts(self, sandbox_id: str, hosts: dict[str, str]) -> None:
        await asyncio.to_thread(self._sandboxes().set_hosts, sandbox_id, hosts)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        await asyncio.to_thread(self._sandboxes().remove, sandbox_id)


def shared_local_executor() -> LocalExecutor:
    from flowyard.executors.registry import get_executor

    return get_executor("local")  # type: ignore[return-value]
