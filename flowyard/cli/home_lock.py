"""One `flowyard up` per FLOWYARD_HOME: two servers on one home would both resume the same
unfinished runs and run their tasks twice. The server holds an flock on `server.lock` for
as long as it lives; the kernel drops it when the process dies, however it dies, so a stale
file never blocks a restart (a pid file alone cannot tell a live server from a reused pid).
The file also says who holds it, for the message a second server prints."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

LOCK_NAME = "server.lock"


class HomeInUse(Exception):
    pass


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def hold(home: Path, url: str) -> int:
    """Take the home's server lock, or raise HomeInUse naming the server that has it.
    Returns the lock's file descriptor, to keep open for the life of the process (it is
    not inherited by the processes the server starts: Python opens it close-on-exec)."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder: dict[str, object] = {}
        with contextlib.suppress(OSError, ValueError):
            holder = dict(json.loads(os.pread(fd, 4096, 0) or b"{}"))
        os.close(fd)
        raise HomeInUse(_message(home, holder)) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "url": url}).encode(), 0)
    return fd


def _message(home: Path, holder: dict[str, object]) -> str:
    pid, url = holder.get("pid"), holder.get("url")
    if not isinstance(pid, int):
        return (f"another `flowyard up` is starting on {home}; wait for it, or set "
                "FLOWYARD_HOME to another folder")
    if not _alive(pid):
        return (f"{home / LOCK_NAME} is still locked although the server that took it (pid "
                f"{pid}) is gone: a process it left behind holds it (see `fuser -v "
                f"{home / LOCK_NAME}`)")
    return (f"another `flowyard up` is already serving {home} (pid {pid}, {url}); stop it "
            "first (Ctrl-C in its terminal, or `kill " + str(pid) + "`), or set FLOWYARD_HOME "
            "to another folder")
