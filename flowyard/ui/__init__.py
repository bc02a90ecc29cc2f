"""The dashboard: NiceGUI pages mounted on the server's FastAPI app at `/`. Pages read and
act only through `flowyard.services`, the layer the REST API uses."""

from __future__ import annotations

from typing import Any

from flowyard.services.context import Services


def mount(app: Any, services: Services | None = None, mount_path: str = "/") -> Any:
    """Serve the dashboard from `app` (FastAPI) and return `app`. Call after the API's routes
    are added: the UI is mounted at `mount_path` and takes whatever the API does not. The
    pages use `app.state.services` (the control plane's) once the app has started.
    NiceGUI keeps one global UI, so mount it on one app per process."""
    from nicegui import ui

    from flowyard.ui import (  # noqa: F401  (importing a page module registers its routes)
        artifacts,
        downloads,
        experiments,
        home,
        pipelines,
        recurring,
        run_page,
        runs,
        state,
        workloads,
    )

    workloads.register()
    state.bind(app, services)
    downloads.register(app)
    ui.run_with(app, mount_path=mount_path, title="Flowyard", favicon="🌊",
                show_welcome_message=False, reconnect_timeout=10.0,
                # Everything NiceGUI needs ships in the package; no CDN or web font is asked for.
                tailwind=False, unocss="wind3", prod_js=True)
    return app
