"""The store: the single source of truth for runs, tasks, artifacts, metrics and events."""

from flowyard.store.store import Store, open_store

__all__ = ["Store", "open_store"]
