"""What every part of one run's execution shares."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowyard.artifacts import ArtifactStore, safe_segment
from flowyard.config import Settings
from flowyard.executors.base import Executor
from flowyard.pipelines.errors import TaskError
from flowyard.pipelines.platform_spec import PlatformConfig
from flowyard.store import Store
from flowyard.store.schema import Task

CANCEL_CHECK_EVERY = 50


@dataclass
class RunContext:
    run_id: str
    job_name: str
    resource_name: str
    create_time: str
    spec: dict[str, Any]
    store: Store
    executor: Executor
    artifacts: ArtifactStore
    settings: Settings
    platform: PlatformConfig
    enable_caching: bool = True
    # Resume: tasks that already finished, by path; they are never executed again.
    done: dict[str, Task] = field(default_factory=dict)
    # Resume: task id -> state of tasks that were PENDING or RUNNING when the driver died;
    # their processes are adopted from the executor, never started twice.
    inflight: dict[str, str] = field(default_factory=dict)
    # Paths of every task row the run already has (a resumed run counts its old rows).
    known_paths: set[str] = field(default_factory=set)
    # The asyncio task driving the run: cancelled to stop the whole run at once.
    root: asyncio.Task[Any] | None = None
    # Why the engine stopped the run itself (the task bound); None while it goes on.
    abort_error: str | None = None

    def new_task(self, path: str, **fields: Any) -> Task:
        """The row for the task at `path`, counted against FLOWYARD_MAX_TASKS_PER_RUN."""
        if path not in self.known_paths:
            self.reserve(1, f"task {path}")
            self.known_paths.add(path)
            if len(self.known_paths) % CANCEL_CHECK_EVERY == 0:
                self._stop_if_canceled()
        return self.store.upsert_task(self.run_id, path, **fields)

    def _stop_if_canceled(self) -> None:
        """A wide expansion (a loop over thousands of items) makes its rows in one stretch
        of the event loop, before the cancel poller gets a turn; so it asks the store itself
        now and then, and a cancel stops it mid-way instead of after the last row."""
        if self.root is not None and self.store.cancel_requested(self.run_id):
            if not self.root.cancelling():
                self.root.cancel()
            raise asyncio.CancelledError

    def reserve(self, count: int, what: str) -> None:
        """Refuse (and stop the run) when `count` more tasks would pass the bound."""
        limit = self.settings.max_tasks_per_run
        if self.abort_error is None and len(self.known_paths) + count <= limit:
            return
        self.abort(f"the run was stopped: {what} would take it past {limit:,} tasks "
                   f"(FLOWYARD_MAX_TASKS_PER_RUN); it already has {len(self.known_paths):,}")
        raise TaskError(self.abort_error or "the run was stopped")

    def abort(self, error: str) -> None:
        """Fail the run: record why once, and cancel everything still running in it."""
        if self.abort_error is None:
            self.abort_error = error
            # Not while a cancel is already unwinding it: a second one cuts cleanup short.
            if self.root is not None and not self.root.cancelling():
                self.root.cancel()

    @property
    def components(self) -> dict[str, Any]:
        return self.spec.get("components", {})

    @property
    def executors(self) -> dict[str, Any]:
        return self.spec.get("deploymentSpec", {}).get("executors", {})

    def task_dir(self, path: str) -> Path:
        """Local scratch for one task: executor output, parameter files, staged artifacts."""
        return self.settings.work_dir / self.run_id / _fs_path(path)

    def log_path(self, path: str) -> Path:
        p = self.settings.logs_dir / self.run_id / f"{_fs_path(path)}.log"
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def output_uri(self, path: str, name: str) -> str:
        return self.artifacts.uri_for(self.run_id, *path.split("/"), name)

    def base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # `python3` in a component's command means the interpreter Flowyard runs under.
        bindir = str(Path(sys.executable).parent)
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        env["FLOWYARD_RUN_ID"] = self.run_id
        return env


    def mounts_dir(self, task_id: str) -> Path:
        """Where secret and config map volumes are written: memory-backed where possible,
        as Kubernetes does, and removed when the task ends."""
        shm = Path("/dev/shm")
        base = shm if shm.is_dir() and os.access(shm, os.W_OK) else self.settings.work_dir
        return base / f"flowyard-{task_id}"

    def workspace_path(self) -> Path:
        return self.settings.home / "workspaces" / self.run_id


def _fs_path(path: str) -> str:
    return "/".join(safe_segment(p) for p in path.split("/"))
