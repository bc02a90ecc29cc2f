"""The supervisor of works, like containerd-shim: the zygote that forks a work (zygote.py) is
its supervisor. It forks the work in its own process group, pumps the work's stdout and stderr
into the log (masked, capped, timestamped; see logs.py), reaps it and records how it ended in
the work's state folder (state.py). A zygote runs in a session of its own, ignores SIGHUP,
SIGINT and SIGPIPE, and when the engine goes away it stops taking work but goes on supervising
what it started until the last of it ends, so works outlive the engine: a restarted engine
adopts them through the records kept here.

One fork per work: the supervisor is the process the work was forked from, not a process of its
own in between. A second process per work cost a fork and an exit of a copy of the whole warm
zygote (tens of MB of page tables: most of a step's cost; see docs/architecture.md).

The work never runs before `supervisor.json` names it (the work waits on a pipe until then), so
after any crash a running work can be found; `exit.json` is written (atomically) only
once every byte of output is in the log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from flowyard.executors import mounts, state
from flowyard.executors.base import Exit, Work
from flowyard.executors.cgroups import MemoryLimit
from flowyard.executors.logs import CHUNK, LogWriter
from flowyard.executors.network import Join

DRAIN_AFTER_EXIT_S = 2.0  # output still held by processes that escaped the work's group


@dataclass
class Launch:
    """What the engine decided for one start of a work (computed there, done here)."""

    state_dir: str
    log_path: str
    max_log_bytes: int
    mask: list[str] = field(default_factory=list)
    memory: MemoryLimit | None = None
    join: Join | None = None


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


# Blocked in the supervisor while it forks: a signal for the new work that arrives before the
# work has dropped the supervisor's handlers waits for it, instead of running the supervisor's
# own handler in the work (which forwards SIGTERM to every work it supervises).
_HELD = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD}


def _run_child(work: Work, launch: Launch, go_r: int, out_w: int, done_w: int,
               close: list[int], mask: set[signal.Signals]) -> NoReturn:
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT,
                      signal.default_int_handler if work.python else signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.setpgid(0, 0)
        os.read(go_r, 1)  # released once the supervisor has recorded this process
        os.close(go_r)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)  # not the engine's pipe to the zygote
        os.close(devnull)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.close(out_w)
        for fd in close:  # the supervisor's own pipes and the other works' logs
            with contextlib.suppress(OSError):
                os.close(fd)
        # Exec'd commands get SIGPIPE's default (a shell pipeline must end quietly); Python
        # code keeps Python's own SIG_IGN, where a broken pipe is an exception.
        signal.signal(signal.SIGPIPE, signal.SIG_IGN if work.python else signal.SIG_DFL)
        if launch.memory is not None:
            launch.memory.apply_rlimit()
        if launch.join is not None:
            work.mounts = [*launch.join.enter(), *work.mounts]
    except BaseException as exc:  # nothing may escape a forked child
        with contextlib.suppress(Exception):
            os.write(2, f"flowyard: cannot start the work: {exc}\n".encode())
        os._exit(126)
    if work.python is not None:
        from flowyard.executors import child  # preloaded in the Python zygote

        child.run_work(work, done_w)
    _exec_command(work)


def _exec_command(work: Work) -> NoReturn:
    """A command's process: its volumes, environment and folder, then exec (kfp-free, so the
    zygote that starts commands stays small and forks in a fraction of the time)."""
    try:
        mounts.apply(work.mounts)
    except OSError as exc:
        os.write(2, f"flowyard: {exc}\n".encode())
        os._exit(126)
    try:
        if work.cwd:
            os.chdir(work.cwd)
        os.execvpe(work.argv[0], work.argv, work.env)
    except OSError as exc:
        os.write(2, f"cannot run {work.argv[0] if work.argv else ''!r}: {exc}\n".encode())
    except BaseException as exc:
        with contextlib.suppress(Exception):
            os.write(2, f"flowyard: cannot start the work: {exc}\n".encode())
    os._exit(127)


def _exit_of(status: int, memory: MemoryLimit | None, started: float) -> Exit:
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    code = 128 + sig if sig is not None else os.waitstatus_to_exitcode(status)
    oom = False
    if memory is not None and memory.kind == "rlimit":
        oom = sig is None and code == 137  # the work's MemoryError (see child.py)
    elif memory is not None:
        oom = memory.oom_killed()
    if oom:
        code = 137
    return Exit(code, sig, oom, started, time.time())


_own: tuple[int, int | None] = (0, None)


def _own_start(me: int) -> int | None:
    global _own
    if _own[0] != me:
        _own = (me, state.start_time(me))
    return _own[1]


class Supervised:
    """One running work under this supervisor: its pipe, its log and, once reaped, its end."""

    def __init__(self, token: int, pid: int, out_r: int, done_r: int, writer: LogWriter,
                 launch: Launch, started: float) -> None:
        self.token, self.pid, self.out_r, self.writer = token, pid, out_r, writer
        self.done_r = done_r  # -1, or where a Python work declares its exit code
        self.launch, self.started = launch, started
        self.status: int | None = None
        self.log_error: OSError | None = None
        self.cgroup_removed = True
        self.eof = False
        self.drain_until = 0.0

    def pump(self) -> None:
        """Copy what the work wrote (called when its pipe is readable). A log that cannot be
        written (a full disk) is drained all the same: the work must not block on its pipe."""
        try:
            data = os.read(self.out_r, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return
        if self.log_error is None:
            try:
                self.writer.write(data)
            except OSError as exc:
                self.log_error = exc

    def declared(self) -> None:
        """The work's own word of its exit code, sent just before it exits (child.py): its
        output is complete and its end is recorded without waiting for its teardown. A work
        that never declares (killed by a signal, exec'd into another program) is reaped."""
        try:
            data = os.read(self.done_r, 1)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        os.close(self.done_r)
        self.done_r = -1
        if data and self.status is None:
            self.reaped(data[0] << 8)  # the wait status of exit(code)

    def reaped(self, status: int) -> None:
        if self.status is not None:  # declared already; this is the teardown's end
            return
        self.status = status
        # The work's end is the container's end: what it left running in its group goes.
        _signal_group(self.pid, signal.SIGKILL)
        self.drain_until = time.monotonic() + DRAIN_AFTER_EXIT_S

    def done(self, now: float) -> bool:
        return self.status is not None and (self.eof or now >= self.drain_until)

    def finish(self) -> Exit:
        """Record the end: the log complete first, then exit.json (atomically)."""
        assert self.status is not None
        memory = self.launch.memory
        ex = _exit_of(self.status, memory, self.started)  # reads the cgroup's OOM count
        if self.done_r >= 0:
            os.close(self.done_r)
            self.done_r = -1
        if memory is not None:
            # What the work left in its cgroup goes too; an rmdir that must wait for them to
            # leave is retried by the caller.
            self.cgroup_removed = memory.remove()
        with contextlib.suppress(OSError):
            os.close(self.out_r)
        try:
            if ex.oom_killed and memory is not None:
                self.writer.write(f"\n--- flowyard: OOMKilled: the work went over its memory "
                                  f"limit of {memory.limit} bytes ---\n".encode())
            self.writer.close()
        except OSError as exc:  # the exit is recorded all the same
            self.log_error = self.log_error or exc
        state.write_exit(Path(self.launch.state_dir), ex)
        return ex


def start(token: int, work: Work, launch: Launch, close: list[int]
          ) -> tuple[Supervised, dict[str, object]]:
    """Fork `work` (held until recorded), record it in supervisor.json, let it run. Returns
    its entry and the record. `close`: this process's fds the work must not keep. Raises
    OSError saying why it could not start."""
    folder = Path(launch.state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if launch.memory is not None:
        launch.memory.create()
    writer = LogWriter(launch.log_path, max_bytes=launch.max_log_bytes, mask=launch.mask)
    out_r, out_w = os.pipe()
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe() if work.python is not None else (-1, -1)
    started = time.time()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for fd in (out_r, out_w, go_r, go_w, done_r, done_w):
            if fd >= 0:
                os.close(fd)
        writer.close()
        raise
    if pid != 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        # Also here, not only in the child: the engine may signal the work's group as soon
        # as it is told of it, which could otherwise be before the child got to it.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
    if pid == 0:
        try:
            os.close(out_r)
            os.close(go_w)
            if done_r >= 0:
                os.close(done_r)
        except BaseException:
            os._exit(126)
        _run_child(work, launch, go_r, out_w, done_w, close, mask)
    os.close(out_w)
    os.close(go_r)
    if done_w >= 0:
        os.close(done_w)
    try:
        if launch.memory is not None:
            launch.memory.attach(pid)
        me = os.getpid()
        record: dict[str, object] = {
            "pid": me, "pid_start": _own_start(me), "work_pid": pid,
            "work_start": state.start_time(pid), "started_at": started,
            "log_path": launch.log_path, "task_id": work.task_id, "gpus": work.gpus or []}
        # Not fsynced: a record of running processes means nothing after a reboot.
        state.write_json(folder / state.SUPERVISOR, record, durable=False)
    except BaseException as exc:
        _signal_group(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        os.close(go_w)
        os.close(out_r)
        if done_r >= 0:
            os.close(done_r)
        writer.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        raise OSError(f"cannot record the work: {exc}") from exc
    os.set_blocking(out_r, False)
    if done_r >= 0:
        os.set_blocking(done_r, False)
    os.close(go_w)  # the work runs from here on
    return Supervised(token, pid, out_r, done_r, writer, launch, started), record
