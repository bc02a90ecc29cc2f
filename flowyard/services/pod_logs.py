"""A container's log as `kubectl logs` asks for it: one container (or the only one), the run
before its last restart (`previous`), the last lines, since a time, with timestamps, capped
in bytes, following while it runs. Errors say what the kubelet would say."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from flowyard.executors import get_executor
from flowyard.executors.base import LogRef
from flowyard.services.context import Services
from flowyard.services.errors import InvalidArgument, NotFound
from flowyard.store import errors as store_errors
from flowyard.store.resources import Key, ResourceStore, to_object

FOLLOW_CHECK_S = 0.5  # how often a follow looks whether the container's run has ended


def _pod(svc: Services, ns: str, name: str) -> dict[str, Any]:
    try:
        return to_object(ResourceStore(svc.store).get(Key("", "pods", ns, name)))
    except store_errors.NotFound:
        raise NotFound(f'pods "{name}" not found') from None


def _container(pod: dict[str, Any], container: str | None) -> tuple[str, dict[str, Any]]:
    spec, name = pod.get("spec") or {}, pod["metadata"]["name"]
    mains = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    if not container:
        if len(mains) != 1:
            extra = f" or one of the init containers: [{' '.join(inits)}]" if inits else ""
            raise InvalidArgument(f"a container name must be specified for pod {name}, choose "
                                  f"one of: [{' '.join(mains)}]{extra}")
        container = mains[0]
    if container not in mains and container not in inits:
        raise InvalidArgument(f"container {container} is not valid for pod {name}")
    status = pod.get("status") or {}
    statuses = [*(status.get("containerStatuses") or []),
                *(status.get("initContainerStatuses") or [])]
    return container, next((s for s in statuses if s["name"] == container), {})


def _attempt(svc: Services, ns: str, name: str, container: str) -> tuple[int, bool] | None:
    """(restartCount, running) of the container now; None once the pod is gone."""
    try:
        pod = _pod(svc, ns, name)
    except NotFound:
        return None
    _, status = _container(pod, container)
    return int(status.get("restartCount") or 0), "running" in (status.get("state") or {})


async def _until_run_ends(svc: Services, ns: str, name: str, container: str,
                          chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Follow the container's current run, as the kubelet does: the stream ends when that run
    ends (a restart is a new run, read with another request)."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=64)

    async def pump() -> None:
        try:
            async for chunk in chunks:
                await queue.put(chunk)
        finally:
            await queue.put(None)

    start = await asyncio.to_thread(_attempt, svc, ns, name, container)
    task = asyncio.ensure_future(pump())
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(queue.get(), FOLLOW_CHECK_S)
            except TimeoutError:
                now = await asyncio.to_thread(_attempt, svc, ns, name, container)
                if now is None or start is None or now[0] != start[0] or not now[1]:
                    while not queue.empty():  # what the run wrote before it ended
                        chunk = queue.get_nowait()
                        if chunk is None:
                            return
                        yield chunk
                    return
                continue
            if chunk is None:
                return
            yield chunk
    finally:
        task.cancel()


def check(svc: Services, ns: str, name: str, container: str | None, previous: bool
          ) -> tuple[str, str]:
    """(namespace, container) once the request can be answered; the API error otherwise.
    Called before the response starts, so an error is a proper status, not a cut stream."""
    pod = _pod(svc, ns, name)
    container, status = _container(pod, container)
    if previous:
        if not int(status.get("restartCount") or 0):
            raise InvalidArgument(f'previous terminated container "{container}" in pod '
                                  f'"{name}" not found')
    elif not status or ("waiting" in (status.get("state") or {})
                        and not status.get("containerID") and not status.get("lastState")):
        reason = ((status.get("state") or {}).get("waiting") or {}).get("reason",
                                                                         "ContainerCreating")
        raise InvalidArgument(f'container "{container}" in pod "{name}" is waiting to start: '
                              f"{reason}")
    return ns, container


async def pod_log(svc: Services, ns: str, name: str, container: str | None = None,
                  follow: bool = False, previous: bool = False, tail: int | None = None,
                  since: float | None = None, timestamps: bool = False,
                  limit_bytes: int | None = None) -> AsyncIterator[bytes]:
    """The log in chunks. `since` is sinceSeconds (how far back from now)."""
    ns, container = check(svc, ns, name, container, previous)
    if tail is not None and tail < 0:
        tail = None
    if limit_bytes is not None and limit_bytes <= 0:
        raise InvalidArgument("limitBytes: must be positive")
    since_epoch = time.time() - since if since is not None else None
    sent = 0
    ref = LogRef(("pods", ns, name, container))
    chunks = get_executor().read_log(ref, follow=follow, tail=tail, since=since_epoch,
                                     timestamps=timestamps, previous=previous)
    if follow and not previous:
        chunks = _until_run_ends(svc, ns, name, container, chunks)
    async for chunk in chunks:
        if limit_bytes is not None:
            chunk = chunk[:max(0, limit_bytes - sent)]
        if chunk:
            sent += len(chunk)
            yield chunk
        if limit_bytes is not None and sent >= limit_bytes:
            return
