"""The executor interface: small on purpose, so local and Ray can both implement it.

Everything that starts a process goes through it: KFP tasks (`pipelines/container.py`) and the
containers of Pods (`controllers/pods.py`, the kubelet). It speaks in references, never in
host paths a remote backend could not honour: logs are named by a `LogRef`, volumes by the
mount table a backend resolves, a pod's network by a `Sandbox` id.

Contract every backend keeps:
- `submit` admits the work against the machine (cpu, memory, gpu requests) and starts it; the
  work keeps running when the control plane dies (its supervisor records its exit).
- `adopt(work_id)` after a restart returns a handle to work started earlier: still running
  (the same process) or finished while nobody watched (its recorded exit). None means the
  work never started or left no trace: the caller may start it again, as a retry.
- `Exit` says how it ended as Kubernetes reports it (exit code, signal, OOMKilled).
- Logs are captured by the backend (bounded, secret values masked, each line timestamped),
  and read back through `read_log`, whole or following.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Resources:
    cpu: float = 1.0
    memory: int = 0  # bytes requested (admission)
    gpu: int = 0
    memory_limit: int = 0  # bytes; 0 means no limit. Over it the work is OOMKilled.


@dataclass
class PythonCall:
    """A KFP lightweight Python component, run by kfp's own executor in a warm process."""

    source: str
    function: str
    executor_input: str
    module_dir: str


@dataclass(frozen=True)
class LogRef:
    """Where a work's output goes, by name: ("runs", RUN, TASK-PATH) for a KFP task,
    ("pods", NS, POD, CONTAINER) for a container. Each part is a checked name segment."""

    parts: tuple[str, ...]


@dataclass
class LogPolicy:
    max_bytes: int = 0  # 0: the backend's default cap; past it a visible marker, then nothing
    mask: list[str] = field(default_factory=list)  # secret values replaced by '***'


@dataclass
class Work:
    task_id: str  # stable and unique: what adopt() finds the work by after a restart
    argv: list[str]
    env: dict[str, str]
    log_path: str  # the local backend's file for `log`; callers migrate to `log`
    cwd: str | None = None
    python: PythonCall | None = None
    resources: Resources = field(default_factory=Resources)
    # (source folder, mount path, read-only): bound in the task's own mount namespace.
    mounts: list[tuple[str, str, bool]] = field(default_factory=list)
    # Extra import paths put first (a layered venv for packages_to_install).
    python_path: list[str] = field(default_factory=list)
    log: LogRef | None = None
    log_policy: LogPolicy = field(default_factory=LogPolicy)
    sandbox: str | None = None  # join this sandbox's network (a pod's containers share one)
    gpus: list[int] | None = None  # set by admission: the devices handed to the work


@dataclass(frozen=True)
class Exit:
    code: int  # the exit status; 128+N when killed by signal N (as Kubernetes reports it)
    signal: int | None = None
    oom_killed: bool = False
    started_at: float | None = None  # epoch seconds
    finished_at: float | None = None

    @property
    def reason(self) -> str:
        """Kubernetes' terminated reason."""
        if self.oom_killed:
            return "OOMKilled"
        return "Completed" if self.code == 0 else "Error"


@dataclass(frozen=True)
class Sandbox:
    """What a pod's containers share: a network identity. `ip` is the address its processes
    listen on and others reach it at; `hosts` are the names it resolves (Services, peers)."""

    id: str
    hostname: str
    ip: str
    hosts: dict[str, str] = field(default_factory=dict)


class Handle(Protocol):
    @property
    def pid(self) -> int | None: ...

    async def wait(self) -> int:
        """The exit status: 0 for success (the code of `wait_exit`)."""
        ...

    async def wait_exit(self) -> Exit:
        """How the work ended, as Kubernetes reports it."""
        ...

    def cancel(self, grace_s: float = 5.0) -> None:
        """SIGTERM to the work's process group, SIGKILL after `grace_s`."""
        ...

    def alive(self) -> bool: ...


class Executor(Protocol):
    async def submit(self, work: Work) -> Handle:
        """Start `work` once its resources are free. Raises ValueError if they never can be."""
        ...

    async def adopt(self, work: Work) -> Handle | None:
        """The work started earlier under `work.task_id` (running, or its recorded exit);
        None when it never started. Takes its resources from admission again."""
        ...

    async def release(self, handle: Handle) -> None:
        """Give back the resources `handle` held."""
        ...

    def clamp(self, resources: Resources) -> tuple[Resources, str | None]:
        """`resources` cut to what this executor can ever grant, and why if it was cut."""
        ...

    def read_log(self, ref: LogRef, *, follow: bool = False, tail: int | None = None,
                 since: float | None = None, timestamps: bool = False,
                 previous: bool = False) -> AsyncIterator[bytes]:
        """A work's captured output in chunks, never all in memory; `follow` goes on until
        the work ends. `previous`: the run before the last restart of a container."""
        ...

    async def create_sandbox(self, sandbox_id: str, hostname: str) -> Sandbox:
        """A network identity for a pod (idempotent: the same id gives the same sandbox,
        also after a restart of the control plane)."""
        ...

    async def set_hosts(self, sandbox_id: str, hosts: dict[str, str]) -> None:
        """The names the sandbox's processes resolve (name -> address)."""
        ...

    async def remove_sandbox(self, sandbox_id: str) -> None: ...
