"""What every part of one run's execution shares."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowyard.artifacts import ArtifactStore, safe_segment
from flowyard.config import Settings
from flowyard.executors.base import Executor
from flowyard.pipelines.platform_spec import PlatformConfig
from flowyard.store import Store
from flowyard.store.schema import Task


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
