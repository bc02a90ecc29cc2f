"""Memory limits, enforced as Kubernetes does: the work runs in its own memory cgroup whose
limit is the container's `resources.limits.memory`; over it the kernel's OOM killer ends it
and the exit says OOMKilled (code 137).

Which mechanism a machine gets, in this order:
- cgroup v2 with the memory controller available below our own cgroup (`memory.max`,
  `memory.swap.max`, OOM kills counted in `memory.events`);
- cgroup v1's memory hierarchy (`memory.limit_in_bytes` and `memory.memsw.limit_in_bytes`,
  OOM kills counted by `oom_kill` in `memory.oom_control`);
- otherwise RLIMIT_DATA on the work (no cgroup: an allocation past the limit fails, Python
  raises MemoryError, which the work reports as OOMKilled).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from dataclasses import dataclass
from pathlib import Path

_detected: tuple[str, Path | None] | None = None


def _mounts() -> list[tuple[str, str, list[str]]]:
    """(mount point, fs type, super options) of every cgroup mount."""
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if len(rfields) >= 3 and rfields[0] in ("cgroup", "cgroup2"):
                found.append((fields[4], rfields[0], rfields[2].split(",")))
    return found


def _own_paths() -> dict[str, str]:
    """Controller (or "" for the v2 unified tree) -> our cgroup's path in that hierarchy."""
    paths: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                paths[c] = path
    return paths


def _try_v2(mount: str, own: str) -> Path | None:
    base = Path(mount) / own.lstrip("/")
    try:
        if "memory" not in (base / "cgroup.controllers").read_text().split():
            return None
        if "memory" not in (base / "cgroup.subtree_control").read_text().split():
            # Fails where our cgroup holds processes (v2's no-internal-process rule).
            (base / "cgroup.subtree_control").write_text("+memory")
    except OSError:
        return None
    return base


def detect() -> tuple[str, Path | None]:
    """("v2", parent) | ("v1", parent) | ("rlimit", None): how limits are enforced here,
    and the cgroup under which each work's own cgroup is made."""
    global _detected
    if _detected is not None:
        return _detected
    override = os.environ.get("FLOWYARD_MEMORY_LIMITS", "").strip()
    own = _own_paths()
    result: tuple[str, Path | None] = ("rlimit", None)
    if os.geteuid() == 0 and override != "rlimit":
        for mount, fstype, _opts in _mounts():
            if fstype == "cgroup2" and "" in own and override in ("", "v2"):
                base = _try_v2(mount, own[""])
                if base is not None:
                    result = ("v2", base)
                    break
        if result[0] == "rlimit" and override in ("", "v1"):
            for mount, fstype, opts in _mounts():
                if fstype == "cgroup" and "memory" in opts and "memory" in own:
                    base = Path(mount) / own["memory"].lstrip("/")
                    if (base / "memory.limit_in_bytes").exists() and os.access(base, os.W_OK):
                        result = ("v1", base)
                        break
    _detected = result
    return result


@dataclass(frozen=True)
class MemoryLimit:
    kind: str  # "v2" | "v1" | "rlimit"
    limit: int  # bytes
    path: str | None  # the work's own cgroup

    def create(self) -> None:
        """Make the cgroup with its limit (in the supervisor, before the work starts)."""
        if self.path is None:
            return
        p = Path(self.path)
        p.mkdir(exist_ok=True)
        if self.kind == "v2":
            (p / "memory.max").write_text(str(self.limit))
            with contextlib.suppress(OSError):
                (p / "memory.swap.max").write_text("0")
        else:
            (p / "memory.limit_in_bytes").write_text(str(self.limit))
            # Without this, the work would go on in swap instead of being stopped.
            with contextlib.suppress(OSError):
                (p / "memory.memsw.limit_in_bytes").write_text(str(self.limit))

    def attach(self, pid: int) -> None:
        if self.path is not None:
            (Path(self.path) / "cgroup.procs").write_text(str(pid))

    def apply_rlimit(self) -> None:
        """In the work itself, where no cgroup is available."""
        if self.kind == "rlimit":
            resource.setrlimit(resource.RLIMIT_DATA, (self.limit, self.limit))

    def oom_killed(self) -> bool:
        if self.path is None:
            return False
        p = Path(self.path)
        name = "memory.events" if self.kind == "v2" else "memory.oom_control"
        with contextlib.suppress(OSError):
            for line in (p / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit():
                    return int(value) > 0
        return False

    def remove(self) -> bool:
        """Stop what is left in the cgroup (as a container's end stops all its processes)
        and remove it; False while killed processes are still leaving it (call again: the
        supervisor retries from its loop rather than sleeping, which would hold up the other
        works it supervises)."""
        if self.path is None:
            return True
        p = Path(self.path)
        try:
            pids = [int(x) for x in (p / "cgroup.procs").read_text().split()]
        except OSError:
            return True
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        try:
            p.rmdir()
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return True


def plan(task_id: str, limit: int) -> MemoryLimit | None:
    """How the work `task_id` gets its limit of `limit` bytes; None without a limit."""
    if limit <= 0:
        return None
    kind, base = detect()
    if base is None:
        return MemoryLimit("rlimit", limit, None)
    return MemoryLimit(kind, limit, str(base / f"flowyard-{task_id}"))
