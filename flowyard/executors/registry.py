"""Executor backends by name, resolved lazily: an entry is `(name, "module:Class")`, and the
module is imported only when that backend is chosen, so importing the core never imports a
backend (Ray, ...) it doesn't use. The setting FLOWYARD_EXECUTOR picks one (default "local")."""

from __future__ import annotations

import importlib
import os
import threading
from typing import Any

from flowyard.executors.base import Executor

# Another backend registers itself by adding a line here (or calling `register`).
BACKENDS: dict[str, str] = {
    "local": "flowyard.executors.local:LocalExecutor",
}

_instances: dict[str, Executor] = {}
_lock = threading.Lock()


def register(name: str, target: str) -> None:
    """Add a backend; `target` is "package.module:ClassName" (imported on first use)."""
    if ":" not in target:
        raise ValueError(f"executor backend {name!r}: expected 'module:Class', got {target!r}")
    BACKENDS[name] = target


def backend_name() -> str:
    return os.environ.get("FLOWYARD_EXECUTOR", "").strip() or "local"


def _resolve(name: str) -> type[Any]:
    target = BACKENDS.get(name)
    if target is None:
        raise ValueError(f"FLOWYARD_EXECUTOR={name!r} is not a known executor backend; expected "
                         f"one of: {', '.join(sorted(BACKENDS))}")
    module_name, _, cls_name = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, cls_name)  # type: ignore[no-any-return]


def get_executor(name: str | None = None) -> Executor:
    """The process-wide executor of backend `name` (the setting when None)."""
    name = name or backend_name()
    with _lock:
        found = _instances.get(name)
        if found is None:
            found = _instances[name] = _resolve(name)()
        return found
