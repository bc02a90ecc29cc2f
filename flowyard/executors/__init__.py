"""Where a unit of work runs. The engine only sees `Executor.submit(work) -> Handle`."""

from flowyard.executors.base import Executor, Handle, PythonCall, Resources, Work

__all__ = ["Executor", "Handle", "PythonCall", "Resources", "Work", "get_executor"]


def get_executor(name: str = "local") -> Executor:
    """Executors are resolved by name so the engine never imports a backend it doesn't use."""
    if name == "local":
        from flowyard.executors.local import shared_local_executor

        return shared_local_executor()
    raise ValueError(f"unknown executor {name!r}; expected one of: local")
