"""Where Flowyard keeps its state, read from the environment at each call so tests and
subprocesses can point a fresh home at a fresh store."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    artifact_root: str
    cpus: float
    memory_bytes: int
    gpus: int
    # An importer of a local file outside the artifact root copies it in; at most this much.
    import_max_bytes: int = 4 * 2**30
    # How many task rows one run may create (containers, DAGs, loop iterations together),
    # so a runaway expansion fails the run instead of filling the disk.
    max_tasks_per_run: int = 10_000

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def work_dir(self) -> Path:
        """Scratch space for executor inputs/outputs of running tasks."""
        return self.home / "work"


def _total_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 8 * 2**30


def _gpu_count() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    return _dev_gpus()


@functools.cache
def _dev_gpus() -> int:
    # /dev/nvidia0.. exist wherever the NVIDIA driver is loaded; no import of torch needed.
    # Read once: settings() is called on every pod start, on the event loop, and a glob of
    # /dev there cost milliseconds per call on a busy machine.
    return len([p for p in Path("/dev").glob("nvidia[0-9]*")])


def settings() -> Settings:
    home = Path(os.environ.get("FLOWYARD_HOME", Path.home() / ".flowyard")).expanduser()
    db_url = os.environ.get("FLOWYARD_DATABASE_URL") or f"sqlite:///{home / 'flowyard.db'}"
    artifact_root = os.environ.get("FLOWYARD_ARTIFACT_ROOT") or str(home / "artifacts")
    cpus = float(os.environ.get("FLOWYARD_CPUS") or os.cpu_count() or 1)
    memory = int(os.environ.get("FLOWYARD_MEMORY_BYTES") or _total_memory())
    gpus = int(os.environ.get("FLOWYARD_GPUS") or _gpu_count())
    import_max = int(os.environ.get("FLOWYARD_IMPORT_MAX_BYTES") or 4 * 2**30)
    return Settings(home, db_url, artifact_root, cpus, memory, gpus, import_max, _max_tasks())


def _max_tasks() -> int:
    text = os.environ.get("FLOWYARD_MAX_TASKS_PER_RUN") or "10000"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"FLOWYARD_MAX_TASKS_PER_RUN={text!r}: expected a whole number >= 1")
    return value
