"""Where a kind's reconciler plugs in. A later issue adds a line to BUILTIN, or calls
register() at import time of its own module."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from flowyard.controllers.context import Context

# (group, kind) -> "module:Class"; resolved on first use.
BUILTIN: dict[tuple[str, str], str] = {
    ("", "PersistentVolumeClaim"): "flowyard.controllers.volumes:VolumeClaimController",
    ("", "ConfigMap"): "flowyard.controllers.configmaps:ConfigMapController",
    ("", "Pod"): "flowyard.controllers.pods:PodController",
    ("batch", "Job"): "flowyard.controllers.jobs:JobController",
    ("apps", "ReplicaSet"): "flowyard.controllers.replicasets:ReplicaSetController",
    ("apps", "Deployment"): "flowyard.controllers.deployments:DeploymentController",
    ("", "Service"): "flowyard.controllers.services:ServiceController",
    ("", "Namespace"): "flowyard.controllers.namespaces:NamespaceController",
    ("", "ServiceAccount"): "flowyard.controllers.namespaces:ServiceAccountController",
}

# A change to an object of the first kind wakes these controllers too: its controlling owner
# of that kind (ownerReferences, controller: true), or whatever the controller's `related`
# maps it to (a Service for the pods it selects).
WATCHES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("", "Pod"): (("batch", "Job"), ("apps", "ReplicaSet"), ("", "Service")),
    ("apps", "ReplicaSet"): (("apps", "Deployment"),),
}


@dataclass
class Outcome:
    """What a reconcile pass decided: the new status, and events saying what it did and why."""

    status: dict[str, Any] | None = None
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    requeue_after: float | None = None  # seconds until the object wants another look


class Reconciler(Protocol):
    group: str
    kind: str

    async def reconcile(self, obj: dict[str, Any], ctx: Context) -> Outcome: ...

    async def finalize(self, obj: dict[str, Any], ctx: Context) -> list[
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

