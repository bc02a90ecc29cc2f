"""The garbage collector and the namespace controller, as Kubernetes runs them: a dependent
whose owners are all gone is deleted (background propagation); an owner deleted with
Foreground keeps its `foregroundDeletion` finalizer until its dependents are gone; with Orphan
its dependents lose the ownerReference first; a deleted Namespace is Terminating until every
object in it is gone. The store is the truth: each pass reads it afresh."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from typing import Any

from flowyard.store import Store
from flowyard.store import errors as store_errors
from flowyard.store.resources import Key, ResourceStore
from flowyard.store.schema import Resource

log = logging.getLogger("flowyard.gc")
INTERVAL_S = 0.5


def _meta(row: Resource) -> dict[str, Any]:
    return row.body.get("metadata") or {}


def _key(row: Resource) -> Key:
    return Key(row.group, row.plural, row.namespace, row.name)


def _drop_finalizer(rs: ResourceStore, row: Resource, finalizer: str) -> None:
    body = copy.deepcopy(row.body)
    meta = body.setdefault("metadata", {})
    meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != finalizer]
    if not meta["finalizers"]:
        meta.pop("finalizers")
    with contextlib.suppress(store_errors.NotFound, store_errors.Conflict):
        rs.write(_key(row), row.resource_version, body=body)


def _delete(rs: ResourceStore, row: Resource, finalizers: tuple[str, ...] = ()) -> None:
    with contextlib.suppress(store_errors.NotFound, store_errors.Conflict):
        rs.delete(_key(row), finalizers)


def collect(store: Store) -> int:
    """One pass; returns how many objects it acted on."""
    rs = ResourceStore(store)
    rows = rs.live()
    by_uid = {r.uid: r for r in rows}
    dependents: dict[str, list[Resource]] = {}
    for r in rows:
        for ref in _meta(r).get("ownerReferences") or []:
            dependents.setdefault(str(ref.get("uid")), []).append(r)
    acted = 0
    for r in rows:
        meta = _meta(r)
        owners = meta.get("ownerReferences") or []
        if not owners or meta.get("deletionTimestamp"):
            continue
        orphaned_by = [o for o in owners if o.get("uid") in by_uid and "orphan" in (
            _meta(by_uid[o["uid"]]).get("finalizers") or [])]
        if orphaned_by:
            body = copy.deepcopy(r.body)
            gone = {o["uid"] for o in orphaned_by}
            body["metadata"]["ownerReferences"] = [o for o in owners if o.get("uid") not in gone]
            if not body["metadata"]["ownerReferences"]:
                body["metadata"].pop("ownerReferences")
            with contextlib.suppress(store_errors.NotFound, store_errors.Conflict):
                rs.write(_key(r), r.resource_version, body=body)
            acted += 1
            continue
        live = [by_uid[o["uid"]] for o in owners if o.get("uid") in by_uid]
        foreground = [o for o in live if "foregroundDeletion" in (_meta(o).get("finalizers")
                                                                  or [])]
        if not live:
            _delete(rs, r)
            acted += 1
        elif foreground and len(foreground) == len(live):
            _delete(rs, r, ("foregroundDeletion",) if r.uid in dependents else ())
            acted += 1
    for r in rows:
        finalizers = _meta(r).get("finalizers") or []
        if not _meta(r).get("deletionTimestamp"):
            continue
        deps = [d for d in dependents.get(r.uid, []) if d.uid in by_uid]
        if "foregroundDeletion" in finalizers and not [
                d for d in deps if any(o.get("uid") == r.uid and o.get("blockOwnerDeletion")
                                       for o in _meta(d).get("ownerReferences") or [])]:
            _drop_finalizer(rs, r, "foregroundDeletion")
            acted += 1
        elif "orphan" in finalizers and not deps:
            _drop_finalizer(rs, r, "orphan")
            acted += 1
        elif r.kind == "Namespace" and r.group == "" and "kubernetes" in finalizers:
            acted += _empty_namespace(rs, r, rows)
    return acted


def _empty_namespace(rs: ResourceStore, ns: Resource, rows: list[Resource]) -> int:
    inside = [r for r in rows if r.namespace == ns.name and r.uid != ns.uid]
    if (ns.status or {}).get("phase") != "Terminating":
        with contextlib.suppress(store_errors.NotFound, store_errors.Conflict):
            rs.write(_key(ns), None, status={**(ns.status or {}), "phase": "Terminating"})
    if not inside:
        fresh = rs.get(_key(ns))
        _drop_finalizer(rs, fresh, "kubernetes")
        return 1
    for r in inside:
        if not _meta(r).get("deletionTimestamp"):
            _delete(rs, r)
    return len(inside)


async def run(store: Store, stop: asyncio.Event, interval: float = INTERVAL_S) -> None:
    rs = ResourceStore(store)
    seen = -1
    while not stop.is_set():
        try:
            # A pass reads every object: only when something was written since the last one.
            current = await asyncio.to_thread(rs.current_version)
            if current != seen:
                await asyncio.to_thread(collect, store)
                seen = current
        except Exception:
            log.exception("garbage collection pass failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
