"""Where a unit of work runs. The engine only sees `Executor.submit(work) -> Handle`; the
backend is chosen by the FLOWYARD_EXECUTOR setting (see registry.py)."""

from flowyard.executors.base import Executor, Exit, Handle, PythonCall, Resources, Work
from flowyard.executors.registry import get_executor

__all__ = ["Executor", "Exit", "Handle", "PythonCall", "Resources", "Work", "get_executor"]
