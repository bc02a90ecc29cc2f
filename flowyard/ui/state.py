"""The Services the dashboard reads through: the server's own (shared with the API) when
the app factory provides one, else one made on the server's event loop at first use."""

from __future__ import annotations

import asyncio
from typing import Any

from flowyard.services.context import Services

_app: Any = None
_services: Services | None = None


def bind(app: Any, services: Services | None) -> None:
    global _app, _services
    _app, _services = app, services


def services() -> Services:
    global _services
    if _services is not None:
        return _services
    shared = getattr(getattr(_app, "state", None), "services", None)
    if isinstance(shared, Services):
        _services = shared
        return shared
    from flowyard.services.launcher import Launcher
    from flowyard.store import open_store

    store = open_store()
    # Runs started from the UI are driven on the server's loop, like the API's.
    _services = Services(store, Launcher(asyncio.get_running_loop(), store))
    return _services
