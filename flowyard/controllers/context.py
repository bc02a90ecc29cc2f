"""What every reconciler is handed: the store, the executor that runs processes, the object
helper for children, status and events, and a way to ask for another look at an object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowyard.controllers.objects import Objects
from flowyard.executors.base import Executor
from flowyard.store import Store
from flowyard.store.resources import Key


@dataclass
class Context:
    store: Store
    services: Any  # flowyard.services.context.Services; typed loosely to keep imports one-way
    executor: Executor
    objects: Objects
    # enqueue(key, after_s): reconcile that object again (a pod worker saw its process exit).
    enqueue: Callable[[Key, float], None]
    # Process-lifetime helpers controllers share (the kubelet's pod workers, the Service
    # proxies), keyed by controller; never the truth, which stays in the store.
    runtime: dict[str, Any]
