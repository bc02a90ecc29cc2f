"""The control plane as one set of asyncio tasks in the caller's loop: the run launcher, the
recurring-run scheduler and the controller manager. `flowyard up` starts all of it; the
in-process client starts the launcher and controllers in a background loop."""

from __future__ import annotations

import asyncio
from typing import Any

from flowyard.controllers.manager import ControllerManager
from flowyard.kube import gc
from flowyard.kube.schemas import builtin_definitions
from flowyard.services.context import Services
from flowyard.services.launcher import Launcher
from flowyard.services.namespaces import ensure_namespaces
from flowyard.services.recovery import resume_orphans
from flowyard.services.scheduler import run_scheduler
from flowyard.store import Store, open_store


class ControlPlane:
    def __init__(self, store: Store | None = None, *, scheduler: bool = True,
                 controllers: bool = True, recover: bool = True) -> None:
        self.store = store or open_store()
        self.with_scheduler, self.with_controllers, self.recover = scheduler, controllers, recover
        self.services: Services | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> Services:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        svc = self.services = Services(self.store, Launcher(loop, self.store))
        if self.recover:
            await asyncio.to_thread(resume_orphans, svc)
        if self.with_scheduler:
            self._tasks.append(loop.create_task(run_scheduler(svc, self._stop), name="scheduler"))
        if self.with_controllers:
            manager = ControllerManager(self.store, svc)
            self._tasks.append(loop.create_task(manager.run(self._stop), name="controllers"))
            await asyncio.to_thread(ensure_namespaces, svc)
            self._tasks.append(loop.create_task(gc.run(self.store, self._stop), name="gc"))
            # The OpenAPI definitions of Kubernetes' kinds take a second to build: before
            # the first kubectl request needs them, not during it.
            self._tasks.append(loop.create_task(asyncio.to_thread(builtin_definitions),
                                                name="kube-schemas"))
        return svc

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.services is not None:
            await self.services.launcher.stop()
