"""The supervisor of one work, like containerd-shim: forked by the zygote, it forks the work in
its own process group, pumps the work's stdout and stderr into the log (masked, capped,
timestamped; see logs.py), waits for it and records how it ended in the work's state folder
(state.py). It is its own session and ignores SIGHUP and SIGPIPE, and holds none of the
engine's pipes, so it outlives the engine and the zygote: a restarted engine adopts the work
through the records it keeps.

The work never runs before `supervisor.json` names it (the work waits on a pipe until then), so
after any crash a running work can be found; `exit.json` is written (atomically) only once
every byte of output is in the log.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from flowyard.executors import state
from flowyard.executors.base import Exit, Work
from flowyard.executors.cgroups import MemoryLimit
from flowyard.executors.logs import CHUNK, LogWriter
from flowyard.executors.network import Join

_DRAIN_AFTER_EXIT_S = 2.0  # output still held by processes that escaped the work's group


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


def _run_child(work: Work, launch: Launch, go_r: int, out_w: int) -> NoReturn:
    from flowyard.executors import child

    try:
        os.setpgid(0, 0)
        os.read(go_r, 1)  # released once the supervisor has recorded this process
        os.close(go_r)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.close(out_w)
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT,
                      signal.default_int_handler if work.python else signal.SIG_DFL)
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
    child.run_work(work)
    os._exit(0)


def _exit_of(status: int, launch: Launch, started: float) -> Exit:
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    code = 128 + sig if sig is not None else os.waitstatus_to_exitcode(status)
    oom = False
    if launch.memory is not None and launch.memory.kind == "rlimit":
        oom = sig is None and code == 137  # the work's MemoryError (see child.py)
    elif launch.memory is not None:
        oom = launch.memory.oom_killed()
    if oom:
        code = 137
    return Exit(code, sig, oom, started, time.time())


def _pump(pid: int, out_r: int, writer: LogWriter) -> int:
    """Copy output until the work has exited and its output is drained; returns its status."""
    pidfd = -1
    with contextlib.suppress(AttributeError, OSError):
        pidfd = os.pidfd_open(pid)
    status: int | None = None
    eof = False
    drain_until = 0.0
    while True:
        if status is None and pidfd < 0:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
        if status is not None and eof:
            break
        watch = [] if eof else [out_r]
        if status is None and pidfd >= 0:
            watch.append(pidfd)
        if status is not None:
            timeout: float | None = max(0.0, drain_until - time.monotonic())
            if timeout == 0.0:
                break
        else:
            timeout = None if pidfd >= 0 else 0.05
        try:
            ready, _, _ = select.select(watch, [], [], timeout)
        except InterruptedError:
            continue
        if out_r in ready:
            data = os.read(out_r, CHUNK)
            if data:
                writer.write(data)
            else:
                eof = True
        if pidfd in ready and status is None:
            _, status = os.waitpid(pid, 0)
        if status is not None and not drain_until:
            # The work's end is the container's end: what it left running in its group goes.
            _signal_group(pid, signal.SIGKILL)
            drain_until = time.monotonic() + _DRAIN_AFTER_EXIT_S
    if pidfd >= 0:
        os.close(pidfd)
    assert status is not None
    return status


def supervise(work: Work, launch: Launch, report_fd: int) -> NoReturn:
    """Runs in the process the zygote forked; never returns."""
    try:
        os.setsid()
        for sig in (signal.SIGHUP, signal.SIGPIPE, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        folder = Path(launch.state_dir)
        folder.mkdir(parents=True, exist_ok=True)
        if launch.memory is not None:
            launch.memory.create()
        writer = LogWriter(launch.log_path, max_bytes=launch.max_log_bytes, mask=launch.mask)
        out_r, out_w = os.pipe()
        go_r, go_w = os.pipe()
        started = time.time()
        pid = os.fork()
        if pid == 0:
            os.close(out_r)
            os.close(go_w)
            os.close(report_fd)
            _run_child(work, launch, go_r, out_w)
        os.close(out_w)
        os.close(go_r)
        if launch.memory is not None:
            launch.memory.attach(pid)
        me = os.getpid()
        state.write_json(folder / state.SUPERVISOR, {
            "pid": me, "pid_start": state.start_time(me), "work_pid": pid,
            "work_start": state.start_time(pid), "started_at": started,
            "log_path": launch.log_path, "task_id": work.task_id, "gpus": work.gpus or []})
    except BaseException as exc:
        with contextlib.suppress(Exception):
            os.write(report_fd, f"failed {exc}".encode())
        os._exit(1)
    os.close(go_w)  # the work runs from here on
    # Stopping the supervisor stops the work gracefully, and its exit is still recorded.
    signal.signal(signal.SIGTERM, lambda *_: _signal_group(pid, signal.SIGTERM))
    with contextlib.suppress(OSError):
        os.write(report_fd, f"started {me} {pid}".encode())
        os.close(report_fd)
    status = 0
    try:
        status = _pump(pid, out_r, writer)
        ex = _exit_of(status, launch, started)
        if launch.memory is not None:
            launch.memory.remove()
        if ex.oom_killed and launch.memory is not None:
            writer.write(f"\n--- flowyard: OOMKilled: the work went over its memory limit of "
                         f"{launch.memory.limit} bytes ---\n".encode())
        writer.close()
        state.write_exit(folder, ex)
    except BaseException:
        with contextlib.suppress(Exception):
            state.write_exit(folder, _exit_of(status, Launch("", "", 0), started))
        os._exit(1)
    os._exit(0)


def fork_supervisor(work: Work, launch: Launch, close: list[int]) -> tuple[int, int]:
    """In the zygote: fork the supervisor and wait until the work is recorded and running.
    Returns (supervisor pid, work pid); raises OSError saying why it could not start."""
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(report_r)
            for fd in close:
                os.close(fd)
        except BaseException:
            os._exit(1)
        supervise(work, launch, report_w)
    os.close(report_w)
    chunks = []
    while True:
        data = os.read(report_r, 4096)
        if not data:
            break
        chunks.append(data)
    os.close(report_r)
    words = b"".join(chunks).decode(errors="replace").split(" ", 2)
    if words[0] == "started" and len(words) == 3:
        return int(words[1]), int(words[2])
    raise OSError(words[-1] if words[0] == "failed" else "the supervisor exited before it "
                  "started the work")
