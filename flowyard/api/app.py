"""The FastAPI app: KFP v2beta1, resources, OpenAPI at /openapi.json. Its lifespan starts
the control plane (runs, schedules, controllers) in the server's own event loop."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import flowyard
from flowyard.api import errors
from flowyard.api.hosts import HostOriginGuard, HostPolicy
from flowyard.api.json_bodies import JsonBodyGuard
from flowyard.api.kfp import router as kfp_router
from flowyard.api.kube import router as kube_router
from flowyard.api.limits import DEFAULT_MAX_BYTES, BodyLimit
from flowyard.api.pods import router as pods_router
from flowyard.api.resources import router as resources_router
from flowyard.services.runtime import ControlPlane
from flowyard.store import Store


def create_app(store: Store | None = None, *, scheduler: bool = True, recover: bool = True,
               max_body_bytes: int | None = None, hosts: HostPolicy | None = None) -> FastAPI:
    """The app; `hosts` says which Host headers it answers (default: the localhost names
    and FLOWYARD_ALLOWED_HOSTS). Its middleware wraps whatever is mounted on it later, the
    dashboard and its websocket included."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        plane = ControlPlane(store, scheduler=scheduler, recover=recover)
        app.state.services = await plane.start()
        try:
            yield
        finally:
            await plane.stop()

    app = FastAPI(title="Flowyard", version=flowyard.__version__, lifespan=lifespan,
                  description="Kubeflow Pipelines v2beta1 REST API and Kubeflow-shaped "
                              "resources, served by one local process.")
    limit = max_body_bytes or int(os.environ.get("FLOWYARD_MAX_REQUEST_BYTES")
                                  or DEFAULT_MAX_BYTES)
    app.add_middleware(JsonBodyGuard)
    app.add_middleware(BodyLimit, max_bytes=limit)
    # Each one added wraps the ones before: a refused Host or Origin costs nothing behind
    # it, and the crash guard, outermost, answers for every layer.
    app.add_middleware(HostOriginGuard, policy=hosts or HostPolicy.build())
    app.add_middleware(errors.CrashGuard)
    errors.install(app)
    app.include_router(kfp_router)
    app.include_router(pods_router)  # before the generic /{plural}/{name}/log route
    app.include_router(kube_router)
    app.include_router(resources_router)
    return app
