"""The warm process tasks are forked from. Started once per engine process; it imports kfp
(and what components commonly use) up front, then forks a child per task on request.

Protocol over its stdin/stdout, each message a 4-byte length and a pickle:
  engine → zygote: (token, Work, Launch)   fork a supervisor (shim.py) that runs the work
  zygote → engine: ("started", token, (supervisor pid, work pid)) or ("failed", token, message)
The zygote answers once the supervisor has recorded the work, so the engine never holds a
work that a restart could not find. Exits are not reported here: each supervisor records its
work's exit in the work's state folder. When stdin closes (the engine is gone) the zygote
exits; the supervisors and their works go on, to be adopted by the next engine.

Unlike multiprocessing's fork server, nothing of the engine's __main__ is re-imported in
the children, so a user's script that calls flowyard.run() is never executed again."""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import signal
import struct
import sys
from typing import Any, BinaryIO

from flowyard.executors import child, shim  # noqa: F401  (child: preloaded for works)

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


def _reap() -> None:
    # Supervisors record their works' exits themselves; the zygote only clears zombies.
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# Imported once here so that tasks don't pay for them; extend with FLOWYARD_PRELOAD=a,b.
DEFAULT_PRELOAD = ("numpy",)


def _preload() -> None:
    names = [n.strip() for n in os.environ.get("FLOWYARD_PRELOAD", "").split(",") if n.strip()]
    for name in (*DEFAULT_PRELOAD, *names):
        # A library that is missing or fails to import is simply not preloaded; a task that
        # needs it reports the failure itself.
        with contextlib.suppress(Exception):
            __import__(name)


def main() -> None:
    # Ctrl-C in the terminal reaches the whole process group; the engine decides what a
    # cancel means, so the zygote itself ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Unbuffered: with a buffered reader, two requests arriving together would leave the
    # second in Python's buffer, where select() cannot see it, until a third came along.
    stdin: BinaryIO = open(sys.stdin.fileno(), "rb", buffering=0, closefd=False)  # noqa: SIM115
    stdout = sys.stdout.buffer
    # Nothing but protocol messages may reach the engine through stdout.
    sys.stdout = sys.stderr
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    sel = selectors.DefaultSelector()
    sel.register(stdin, selectors.EVENT_READ, "request")
    sel.register(wake_r, selectors.EVENT_READ, "child")
    _preload()
    write_message(stdout, ("ready", os.getpid(), None))
    while True:
        for key, _ in sel.select():
            if key.data == "child":
                os.read(wake_r, 4096)
                _reap()
                continue
            try:
                token, work, launch = read_message(stdin)
            except EOFError:
                return
            try:
                pids = shim.fork_supervisor(work, launch,
                                            [wake_r, wake_w, stdin.fileno(), stdout.fileno()])
            except OSError as exc:
                write_message(stdout, ("failed", token, str(exc)))
                continue
            write_message(stdout, ("started", token, pids))
        _reap()


if __name__ == "__main__":
    # If the engine goes away, so do we, quietly.
    with contextlib.suppress(BrokenPipeError, EOFError, KeyboardInterrupt):
        main()
