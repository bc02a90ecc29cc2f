"""Events as Kubernetes objects: what controllers recorded (the events table) served as core
v1 Events and events.k8s.io/v1 Events, with field selectors on involvedObject (what
`kubectl describe` asks for), and created by clients that post an Event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from flowyard.resources import fields
from flowyard.services.context import Services
from flowyard.services.errors import InvalidArgument, NotFound
from flowyard.services.kfp_json import ts
from flowyard.store.resources import ResourceStore
from flowyard.store.schema import Event


def _core(e: Event, uids: dict[tuple[str, str, str], str]) -> dict[str, Any]:
    when = ts(e.created_at)
    ns = e.object_namespace or "default"
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{e.object_name}.{e.id:016x}", "namespace": ns,
                         "uid": f"00000000-0000-4000-8000-{e.id:012x}",
                         "resourceVersion": str(e.id), "creationTimestamp": when},
            "involvedObject": {"kind": e.object_kind, "name": e.object_name,
                               "namespace": e.object_namespace,
                               "uid": uids.get((e.object_kind, e.object_namespace,
                                                e.object_name), "")},
            "reason": e.reason, "message": e.message, "type": e.type,
            "source": {"component": "flowyard"}, "firstTimestamp": when,
            "lastTimestamp": when, "count": 1, "reportingComponent": "flowyard",
            "reportingInstance": ""}


def _events_v1(core: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": core["metadata"],
            "eventTime": None, "reason": core["reason"], "note": core["message"],
            "type": core["type"], "regarding": core["involvedObject"],
            "reportingController": "flowyard", "reportingInstance": "flowyard",
            "deprecatedSource": core["source"], "deprecatedFirstTimestamp":
                core["firstTimestamp"], "deprecatedLastTimestamp": core["lastTimestamp"],
            "deprecatedCount": 1}


def list_events(svc: Services, namespace: str | None, field_selector: str | None,
                label_selector: str | None = None, group: str = "") -> dict[str, Any]:
    try:
        match = fields.parse(field_selector, "Event")
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    rs = ResourceStore(svc.store)
    uids = {(r.kind, r.namespace, r.name): r.uid for r in rs.live()}
    items = []
    for e in rs.all_events(None if namespace in (None, "-") else namespace):
        obj = _core(e, uids)
        if match(obj):
            items.append(_events_v1(obj) if group else obj)
    # Events are numbered by their own sequence: a watch from this version sees later ones.
    newest = max((int(i["metadata"]["resourceVersion"]) for i in items), default=0)
    return {"apiVersion": "events.k8s.io/v1" if group else "v1", "kind": "EventList",
            "metadata": {"resourceVersion": str(max(newest, rs.newest_event_id()))},
            "items": items}


async def watch_events(svc: Services, namespace: str | None, field_selector: str | None,
                       resource_version: str | None, timeout_s: float, group: str = ""
                       ) -> AsyncIterator[dict[str, Any]]:
    """Events as a watch: those after `resource_version` (all of them without one), polled
    from the events table without holding a thread between polls."""
    import asyncio

    try:
        since = int(resource_version) if resource_version not in (None, "", "0") else None
    except ValueError:
        raise InvalidArgument(f"resourceVersion {resource_version!r}: not a version this "
                              "server gave out") from None

    async def events() -> AsyncIterator[dict[str, Any]]:
        nonlocal since
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            out = await asyncio.to_thread(list_events, svc, namespace, field_selector, None,
                                          group)
            for item in out["items"]:
                rv = int(item["metadata"]["resourceVersion"])
                if since is None or rv > since:
                    yield {"type": "ADDED", "object": item}
            since = int(out["metadata"]["resourceVersion"])
            await asyncio.sleep(min(1.0, max(deadline - loop.time(), 0)))

    return events()


def get_event(svc: Services, namespace: str, name: str, group: str = "") -> dict[str, Any]:
    for item in list_events(svc, namespace, None, group=group)["items"]:
        if item["metadata"]["name"] == name:
            return item
    raise NotFound(f'events "{name}" not found')


def create_event(svc: Services, namespace: str, body: Any, group: str = "") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidArgument("the request body must be a JSON object")
    inv = body.get("regarding" if group else "involvedObject") or {}
    if not inv.get("kind") or not inv.get("name"):
        field = "regarding" if group else "involvedObject"
        raise InvalidArgument(f"{field}: Required value: kind and name of the object")
    message = body.get("note" if group else "message") or ""
    ResourceStore(svc.store).add_event(str(inv["kind"]), str(inv.get("namespace") or namespace),
                                       str(inv["name"]), str(body.get("reason") or ""),
                                       str(message), str(body.get("type") or "Normal"))
    newest = list_events(svc, namespace, None, group=group)["items"]
    return newest[-1] if newest else body
