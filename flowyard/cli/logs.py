"""`flowyard logs RUN [TASK] [-f]`: a run's task logs, streamed in chunks (a log of any size
is never read whole), one header per task and loop iteration. With -f it follows the run
until it ends, waiting for tasks that have not started, as `kubectl logs -f` waits."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from flowyard.cli.progress import task_label
from flowyard.store.store import TERMINAL_RUN_STATES

CHUNK = 64 * 1024
POLL_S = 0.2
# A line with no newline yet is held back while other tasks print (so two tasks never share
# a line), but never more than this: past it, it is printed as it is.
MAX_HELD = 64 * 1024
_ENDED = ("SUCCEEDED", "FAILED", "CANCELED", "SKIPPED", "CACHED")


class LogsError(Exception):
    """What the user asked for cannot be shown; the message says why."""


@dataclass
class _Source:
    task_id: str
    path: Path
    offset: int = 0
    inode: int | None = None
    held: bytes = b""
    drained: bool = False


def task_names(spec: dict[str, Any]) -> set[str]:
    """Every task name a run of `spec` can have: DAG keys and display names, at any depth."""
    names: set[str] = set()
    dags = [spec.get("root", {}).get("dag", {})]
    dags += [c.get("dag", {}) for c in (spec.get("components") or {}).values()]
    for dag in dags:
        for key, task in (dag.get("tasks") or {}).items():
            names.add(key)
            names.add(str((task.get("taskInfo") or {}).get("name", key)))
    return names


def driver_gone(row: Any) -> int | None:
    """The pid of the process on this machine that drove the run, if it is dead (then the
    run goes no further until it is resumed); None if it lives, or runs elsewhere."""
    host, _, pid = (row.driver or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return int(pid)
    return int(pid) if state == "Z" else None


class RunLogs:
    def __init__(self, store: Any, run_id: str, task: str, out: BinaryIO,
                 header: Callable[[str], None]) -> None:
        self.store, self.run_id, self.task, self.out = store, run_id, task, out
        self.header = header
        self.sources: dict[str, _Source] = {}
        self.current: str | None = None  # the task whose output was printed last
        self.notes: dict[str, str] = {}  # task id -> what its header adds (where a log came from)

    def _log_path(self, t: Any) -> str | None:
        """The log that tells what `t` did. A task taken from the cache did not run: its
        outputs are those of the task it was cached from, so its log is that task's (as a
        cache hit in Kubeflow shows the execution it reused), and its header says so."""
        if t.log_path or not t.cached_from:
            return t.log_path
        source = self.store.get_task(t.cached_from)
        if source is None or not source.log_path:
            return None
        self.notes[t.id] = f": the log of run {source.run_id}"
        return source.log_path

    def _matches(self, t: Any) -> bool:
        return not self.task or self.task in (t.name, t.path)

    def _titled(self, t: Any) -> bool:
        # A header for every task, except the one task asked for by its own path.
        return not self.task or t.path != self.task

    def _tasks(self) -> list[Any]:
        return [t for t in self.store.tasks(self.run_id) if self._matches(t) and self._log_path(t)]

    def show(self) -> None:
        """What the logs hold now, task after task."""
        tasks = self._tasks()
        if self.task and not tasks:
            raise LogsError(f"run {self.run_id} has no task {self.task!r} with logs")
        by_id = {t.id: t for t in self.store.tasks(self.run_id)}
        for t in tasks:
            if self._titled(t):  # also for a task that printed nothing
                self.header(self._title(t, by_id))
            self.current = t.id
            self._drain(t, _Source(t.id, Path(self._log_path(t) or "")), by_id, final=True)

    def follow(self) -> str:
        """Print each task's output as it is written, until the run ends; its final state."""
        row = self.store.get_run(self.run_id)
        if self.task and self.task.rsplit("/", 1)[-1] not in task_names(row.spec or {}):
            known = ", ".join(sorted(task_names(row.spec or {}))) or "none"
            raise LogsError(f"run {self.run_id} has no task {self.task!r} (its tasks: {known})")
        while True:
            row = self.store.get_run(self.run_id)
            ended = row is None or row.state in TERMINAL_RUN_STATES
            every = self.store.tasks(self.run_id)
            by_id = {t.id: t for t in every}
            for t in every:
                if not self._matches(t) or (path := self._log_path(t)) is None:
                    continue
                source = self.sources.setdefault(t.id, _Source(t.id, Path(path)))
                if not source.drained:
                    self._drain(t, source, by_id, final=ended or t.state in _ENDED)
            if ended:
                state = row.state if row is not None else "DELETED"
                if self.task and not self.sources:
                    raise LogsError(f"run {self.run_id} ended {state} and task {self.task!r} "
                                    "never ran")
                return state
            if not row.cancel_requested and (pid := driver_gone(row)) is not None:
                raise LogsError(f"run {self.run_id} is {row.state} but the process that drove "
                                f"it (pid {pid}) is gone; resume it with `flowyard run "
                                f"--resume {self.run_id}` or start `flowyard up`")
            time.sleep(POLL_S)

    def _drain(self, t: Any, source: _Source, by_id: dict[str, Any], final: bool) -> None:
        """Print what `t` wrote since last time, in chunks. `final`: the task has ended, so
        what is read now is all there will be."""
        try:
            f = source.path.open("rb")
        except FileNotFoundError:
            source.drained = final
            return
        with f:
            inode = os.fstat(f.fileno()).st_ino
            size = os.fstat(f.fileno()).st_size
            if source.inode not in (None, inode) or size < source.offset:
                # The log was started again (a resumed or retried task): read it from the top.
                source.offset, source.held = 0, b""
            source.inode = inode
            f.seek(source.offset)
            while chunk := f.read(CHUNK):
                source.offset += len(chunk)
                data = source.held + chunk
                cut = data.rfind(b"\n") + 1
                if cut == 0 and len(data) < MAX_HELD:
                    source.held = data
                    continue
                cut = cut or len(data)
                source.held = data[cut:]
                self._emit(t, by_id, data[:cut])
        if final:
            if source.held:
                self._emit(t, by_id, source.held + b"\n")
                source.held = b""
            source.drained = True

    def _title(self, t: Any, by_id: dict[str, Any]) -> str:
        return f"{task_label(t, by_id)} ({t.state.lower()}{self.notes.get(t.id, '')})"

    def _emit(self, t: Any, by_id: dict[str, Any], data: bytes) -> None:
        if self.current != t.id:
            self.current = t.id
            if self._titled(t):
                self.out.flush()
                self.header(self._title(t, by_id))
        self.out.write(data)
        self.out.flush()
