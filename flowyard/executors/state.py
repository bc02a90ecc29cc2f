"""A work's state folder, `$FLOWYARD_HOME/run/<task_id>/`: what its supervisor recorded, so
that a restarted engine can find the work again (adopt) or learn how it ended.

  supervisor.json  the supervisor's and the work's pid and start time, written before the work
                   runs (a work never runs without this record)
  exit.json        how the work ended (an `Exit`), written atomically once the log is complete
                   (neither is fsynced: see write_exit)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flowyard.executors.base import Exit

# Task ids name folders: letters, digits and . _ -, not starting with a dot (no '..', no '/').
_TASK_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")

SUPERVISOR = "supervisor.json"
EXIT = "exit.json"


def check_task_id(task_id: str) -> str:
    if not isinstance(task_id, str) or not _TASK_ID.fullmatch(task_id):
        raise ValueError(f"work task_id {task_id!r} is not valid: expected 1-200 letters, digits, "
                         "'.', '_' or '-', not starting with '.'")
    return task_id


def run_root(home: Path) -> Path:
    return home / "run"


def state_dir(home: Path, task_id: str) -> Path:
    return run_root(home) / check_task_id(task_id)


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Readers see the old file or the whole new one, also after a crash: tmp, fsync, rename.
    `durable=False` skips the fsync where only a process crash (not the machine's) matters:
    a record of running processes means nothing after a reboot."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_json(path: Path, value: dict[str, Any], *, durable: bool = True) -> None:
    write_atomic(path, json.dumps(value).encode(), durable=durable)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_exit(folder: Path, ex: Exit) -> None:
    # Atomic (tmp + rename) but not fsynced: a process crash cannot lose it (the page cache
    # outlives any process), and after a machine crash an exit the engine had not yet stored
    # is worth nothing anyway: the work's outputs were not synced either, so a lost (or, on
    # some file systems, empty and so unreadable) exit.json makes the task run again, which is
    # what such a task needs.
    write_json(folder / EXIT, asdict(ex), durable=False)


def read_exit(folder: Path) -> Exit | None:
    raw = read_json(folder / EXIT)
    if raw is None:
        return None
    return Exit(int(raw["code"]), raw.get("signal"), bool(raw.get("oom_killed")),
                raw.get("started_at"), raw.get("finished_at"))


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat): with
    the pid it names one process for good, as pids get reused. None if it is gone or a zombie."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        try:
            raw = os.read(fd, 4096)
        finally:
            os.close(fd)
        fields = raw.rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in (b"Z", b"X"):
        return None
    with contextlib.suppress(IndexError, ValueError):
        return int(fields[19])
    return None


def is_alive(pid: int | None, started: int | None) -> bool:
    return bool(pid) and started is not None and start_time(pid or 0) == started
