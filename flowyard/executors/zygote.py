"""The warm process works are forked from, and their supervisor (shim.py). An engine starts two:
`python -m flowyard.executors.zygote python` imports kfp (and what components commonly use) up
front, for KFP's Python steps; `... exec` imports nothing more than the supervisor needs, for
commands: a fork of a small process costs a fraction of one of the warm ~100 MB one.

Protocol over its stdin/stdout, each message a 4-byte length and a pickle:
  engine → zygote: (token, Work, Launch)   fork and supervise the work
  zygote → engine: ("started", token, record)   once supervisor.json names the work
                   ("failed", token, message)
                   ("exited", token, Exit)      once exit.json is written (how the engine
                                                 learns of an end: no polling, no pidfd)
The engine never holds a work that a restart could not find. When stdin closes (the engine is
gone) the zygote takes no more work; it supervises what it started until the last of it ends
(recording each end in the work's state folder), then exits. The next engine adopts them.

Unlike multiprocessing's fork server, nothing of the engine's __main__ is re-imported in
the children, so a user's script that calls flowyard.run() is never executed again."""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import selectors
import signal
import struct
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

from flowyard.executors import shim, state
from flowyard.executors.cgroups import MemoryLimit

_HEADER = struct.Struct("!I")


def write_message(out: BinaryIO, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)) + data)
    out.flush()


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(stream: BinaryIO) -> Any:
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    return pickle.loads(_read_exact(stream, size))


# Imported once here so that tasks don't pay for them; extend with FLOWYARD_PRELOAD=a,b.
DEFAULT_PRELOAD = ("numpy",)


def _preload() -> None:
    from flowyard.executors import child  # noqa: F401  (kfp's executor, for Python works)

    names = [n.strip() for n in os.environ.get("FLOWYARD_PRELOAD", "").split(",") if n.strip()]
    for name in (*DEFAULT_PRELOAD, *names):
        # A library that is missing or fails to import is simply not preloaded; a task that
        # needs it reports the failure itself.
        with contextlib.suppress(Exception):
            __import__(name)


class _Engine:
    """The channel back to the engine; once it is gone, answers are dropped (the records in
    the state folders are what a next engine reads)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out: BinaryIO | None = out

    def send(self, message: Any) -> None:
        if self.out is None:
            return
        try:
            write_message(self.out, message)
        except OSError:
            self.out = None


def main(kind: str) -> None:
    # The engine decides what Ctrl-C means; a closed terminal or a dead engine must not end
    # the works supervised here.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    # Unbuffered: with a buffered reader, two requests arriving together would leave the
    # second in Python's buffer, where select() cannot see it, until a third came along.
    stdin: BinaryIO = open(sys.stdin.fileno(), "rb", buffering=0, closefd=False)  # noqa: SIM115
    engine = _Engine(sys.stdout.buffer)
    # Nothing but protocol messages may reach the engine through stdout.
    sys.stdout = sys.stderr
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    works: dict[int, shim.Supervised] = {}
    cgroups_left: list[tuple[MemoryLimit, float]] = []  # killed, not yet empty (and removed)
    # Stopping the supervisor stops its works gracefully; their ends are still recorded.
    signal.signal(signal.SIGTERM, lambda *_: [shim._signal_group(p, signal.SIGTERM)
                                              for p in list(works)])
    sel = selectors.DefaultSelector()
    sel.register(stdin, selectors.EVENT_READ, None)
    sel.register(wake_r, selectors.EVENT_READ, None)
    if kind == "python":
        _preload()
    # What was imported stays out of the collector's sight: a collection in a work would
    # otherwise write to every object's header and copy each of the zygote's pages it touches.
    gc.collect()
    gc.freeze()
    engine.send(("ready", os.getpid(), None))
    accepting = True

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in works:
                works[pid].reaped(status)

    while accepting or works or cgroups_left:
        now = time.monotonic()
        deadlines = [w.drain_until for w in works.values() if w.status is not None]
        if cgroups_left:
            deadlines.append(now + 0.02)
        timeout = max(0.0, min(deadlines) - now) if deadlines else None
        for key, _ in sel.select(timeout):
            if key.fileobj is stdin:
                try:
                    token, work, launch = read_message(stdin)
                except (EOFError, OSError, pickle.UnpicklingError):
                    accepting = False  # the engine is gone: finish what runs, then exit
                    sel.unregister(stdin)
                    engine.out = None
                    continue
                # (fds 0-2 the work replaces with its own)
                close = [wake_r, wake_w, *(w.out_r for w in works.values() if not w.eof),
                         *(w.done_r for w in works.values() if w.done_r >= 0)]
                try:
                    entry, record = shim.start(token, work, launch, close)
                except Exception as exc:
                    engine.send(("failed", token, str(exc) or type(exc).__name__))
                    continue
                works[entry.pid] = entry
                sel.register(entry.out_r, selectors.EVENT_READ, entry)
                if entry.done_r >= 0:
                    sel.register(entry.done_r, selectors.EVENT_READ, entry)
                engine.send(("started", token, record))
            elif key.fileobj == wake_r:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
                reap()
            elif key.fd == key.data.done_r:
                sel.unregister(key.fd)
                key.data.declared()
            else:
                entry = key.data
                entry.pump()
                if entry.eof:
                    sel.unregister(entry.out_r)
        reap()  # a SIGCHLD that came while a request was read
        now = time.monotonic()
        for pid, entry in list(works.items()):
            if not entry.done(now):
                continue
            del works[pid]
            if not entry.eof:
                sel.unregister(entry.out_r)
            if entry.done_r >= 0:
                sel.unregister(entry.done_r)
            memory = entry.launch.memory
            try:
                ex = entry.finish()
                if memory is not None and not entry.cgroup_removed:
                    cgroups_left.append((memory, now + 1.0))
            except Exception as exc:  # the record is what matters: keep the exit at least
                ex = shim._exit_of(entry.status or 0, None, entry.started)
                with contextlib.suppress(Exception):
                    state.write_exit(Path(entry.launch.state_dir), ex)
                with contextlib.suppress(Exception):
                    print(f"flowyard supervisor: the log of pid {pid} may be incomplete: "
                          f"{exc}", file=sys.stderr)
            engine.send(("exited", entry.token, ex))
        # Emptied by now (or given up on: a process stuck in the kernel keeps its cgroup).
        cgroups_left[:] = [(m, until) for m, until in cgroups_left
                           if not m.remove() and now < until]


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main(sys.argv[1] if len(sys.argv) > 1 else "python")
