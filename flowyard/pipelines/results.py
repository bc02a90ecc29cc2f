"""A finished task as the rest of its DAG sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK_STATES = frozenset({"SUCCEEDED", "CACHED"})


def empty_outputs() -> dict[str, Any]:
    return {"parameters": {}, "artifacts": {}}


@dataclass
class TaskResult:
    state: str
    outputs: dict[str, Any] = field(default_factory=empty_outputs)
    task_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.state in OK_STATES

    @property
    def broken(self) -> bool:
        return self.state in ("FAILED", "CANCELED")


@dataclass
class Scope:
    """The inside of one DAG execution: its inputs and the results of its tasks so far."""

    parameters: dict[str, Any]
    artifacts: dict[str, list[dict[str, Any]]]
    results: dict[str, TaskResult] = field(default_factory=dict)
