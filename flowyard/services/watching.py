"""Kubernetes watch as an async generator (no thread held while it waits): the current
objects first when no resourceVersion is given, then every change after it, bookmarks when
asked (allowWatchBookmarks), the initial-events-end bookmark (sendInitialEvents), 410 Expired
for a version older than the change log keeps."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from flowyard.kube import watch as hubs
from flowyard.services.context import Services
from flowyard.services.errors import ApiError, InvalidArgument
from flowyard.services.resource_lists import matcher
from flowyard.services.resources import Gone, Ref, info_for
from flowyard.store.resources import ResourceStore
from flowyard.store.resources import to_object as render
from flowyard.store.schema import ResourceChange


class TooMany(ApiError):
    status, code = 429, 8


def bookmark_seconds() -> float:
    return float(os.environ.get("FLOWYARD_WATCH_BOOKMARK_SECONDS") or 60)


async def watch(svc: Services, ref: Ref, client: str, resource_version: str | None,
                label_selector: str | None, field_selector: str | None, timeout_s: float,
                all_namespaces: bool, bookmarks: bool, initial_events: bool | None,
                render_event: Callable[[dict[str, Any]], dict[str, Any]]
                ) -> AsyncIterator[dict[str, Any]]:
    """Checks the request (raising before anything streams), then returns the events."""
    match = matcher(svc, ref, label_selector, field_selector)
    try:
        since = int(resource_version) if resource_version not in (None, "", "0") else None
    except ValueError:
        raise InvalidArgument(f"resourceVersion {resource_version!r}: not a version this "
                              "server gave out") from None
    rs = ResourceStore(svc.store)
    if since is not None and since + 1 < await asyncio.to_thread(rs.oldest_change):
        raise Gone(f"too old resource version: {since}: list again and watch from the list's "
                   "resourceVersion")
    try:
        sub = hubs.hub(svc.store).subscribe(client)
    except hubs.TooManyWatches as exc:
        raise TooMany(str(exc)) from None
    info = info_for(ref, svc=svc)
    ns = None if all_namespaces else ref.namespace
    send_initial = initial_events if initial_events is not None else since is None

    def accepts(change: ResourceChange) -> bool:
        return (change.group == ref.group and change.plural == ref.plural
                and (ns is None or change.namespace == ns) and match(change.object))

    def bookmark(rv: int, end: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"type": "BOOKMARK", "object": {"kind": info.kind,
                                               "apiVersion": info.api_version,
                                               "metadata": meta}}

    async def events() -> AsyncIterator[dict[str, Any]]:
        nonlocal since
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            if since is None:
                since = await asyncio.to_thread(rs.current_version)
            if send_initial:
                rows = await asyncio.to_thread(rs.list, ref.group, ref.plural, ns)
                for row in rows:
                    obj = render(row)
                    if match(obj):
                        yield render_event({"type": "ADDED", "object": obj})
                if bookmarks and initial_events:
                    yield bookmark(since, end=True)
            async for item in hubs.changes(svc.store, sub, since, accepts, deadline,
                                           bookmark_seconds() if bookmarks else None):
                if isinstance(item, int):
                    yield bookmark(item)
                else:
                    yield render_event(hubs.event_of(item))
        finally:
            hubs.hub(svc.store).unsubscribe(sub)

    return events()
