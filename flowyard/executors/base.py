"""The executor interface: small on purpose, so local and Ray can both implement it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Resources:
    cpu: float = 1.0
    memory: int = 0
    gpu: int = 0


@dataclass
class PythonCall:
    """A KFP lightweight Python component, run by kfp's own executor in a warm process."""

    source: str
    function: str
    executor_input: str
    module_dir: str


@dataclass
class Work:
    task_id: str
    argv: list[str]
    env: dict[str, str]
    log_path: str
    cwd: str | None = None
    python: PythonCall | None = None
    resources: Resources = field(default_factory=Resources)
    # (source folder, mount path, read-only): bound in the task's own mount namespace.
    mounts: list[tuple[str, str, bool]] = field(default_factory=list)
    # Extra import paths put first (a layered venv for packages_to_install).
    python_path: list[str] = field(default_factory=list)


class Handle(Protocol):
    @property
    def pid(self) -> int | None: ...

    async def wait(self) -> int:
        """The exit status: 0 for success."""
        ...

    def cancel(self) -> None: ...


class Executor(Protocol):
    async def submit(self, work: Work) -> Handle:
        """Start `work` once its resources are free. Raises ValueError if they never can be."""
        ...

    async def release(self, handle: Handle) -> None:
        """Give back the resources `handle` held."""
        ...

    def clamp(self, resources: Resources) -> tuple[Resources, str | None]:
        """`resources` cut to what this executor can ever grant, and why if it was cut."""
        ...
