"""Where a kind's reconciler plugs in. A later issue adds a line to BUILTIN, or calls
register() at import time of its own module."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

# (group, kind) -> "module:Class"; resolved on first use.
BUILTIN: dict[tuple[str, str], str] = {
    ("", "PersistentVolumeClaim"): "flowyard.controllers.volumes:VolumeClaimController",
    ("", "ConfigMap"): "flowyard.controllers.configmaps:ConfigMapController",
}


@dataclass
class Outcome:
    """What a reconcile pass decided: the new status, and events saying what it did and why."""

    status: dict[str, Any] | None = None
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    requeue_after: float | None = None  # seconds until the object wants another look


class ControllerContext(Protocol):
    store: Any


class Reconciler(Protocol):
    group: str
    kind: str

    async def reconcile(self, obj: dict[str, Any], ctx: ControllerContext) -> Outcome: ...

    async def finalize(self, obj: dict[str, Any], ctx: ControllerContext) -> list[
        tuple[str, str, str]]: ...


_registered: dict[tuple[str, str], Reconciler] = {}


def register(reconciler: Reconciler) -> None:
    _registered[(reconciler.group, reconciler.kind)] = reconciler


def unregister(group: str, kind: str) -> None:
    _registered.pop((group, kind), None)


def controller_for(group: str, kind: str) -> Reconciler | None:
    key = (group, kind)
    if key not in _registered and key in BUILTIN:
        module, _, cls = BUILTIN[key].partition(":")
        register(getattr(importlib.import_module(module), cls)())
    return _registered.get(key)


def has_controller(group: str, kind: str) -> bool:
    return (group, kind) in _registered or (group, kind) in BUILTIN

