"""What controllers read and write: objects as the API shows them, children with their
ownerReferences, status, and events. The store stays the truth; nothing here caches."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from flowyard.resources import kinds, selectors
from flowyard.resources.objects import validate
from flowyard.store import Store
from flowyard.store import errors as store_errors
from flowyard.store.resources import Key, ResourceStore, to_object


def owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
    """The ownerReference a controller puts on what it creates (controller: true)."""
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"],
            "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def key_of(obj: dict[str, Any]) -> Key:
    info = kinds.kind_for(obj["apiVersion"], obj["kind"])
    meta = obj["metadata"]
    return Key(info.group, info.plural, meta.get("namespace") or "", meta["name"])


def _spec_side(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    body = copy.deepcopy(obj)
    body.pop("status", None)
    meta = body.setdefault("metadata", {})
    labels = meta.pop("labels", None) or {}
    for k in ("resourceVersion", "uid", "generation", "creationTimestamp", "namespace"):
        meta.pop(k, None)
    return body, labels


class Objects:
    """Async reads and writes of objects for controllers (each call one short transaction,
    run off the event loop)."""

    def __init__(self, store: Store) -> None:
        self.rs = ResourceStore(store)
        self._pending: list[tuple[str, str, str, str, str, str]] = []
        self._flusher: asyncio.Future[None] | None = None

    async def get(self, group: str, plural: str, namespace: str, name: str
                  ) -> dict[str, Any] | None:
        try:
            row = await asyncio.to_thread(self.rs.get, Key(group, plural, namespace, name))
        except store_errors.NotFound:
            return None
        return to_object(row)

    async def list(self, group: str, plural: str, namespace: str | None = None,
                   selector: dict[str, Any] | None = None, match_labels: dict[str, str] | None
                   = None) -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(self.rs.list, group, plural, namespace)
        out = []
        for row in rows:
            labels = row.labels or {}
            if selector is not None and not selectors.match_selector(selector, labels):
                continue
            if match_labels is not None and any(labels.get(k) != v
                                                for k, v in match_labels.items()):
                continue
            out.append(to_object(row))
        return out

    async def children(self, owner: dict[str, Any], group: str, plural: str
                       ) -> list[dict[str, Any]]:
        """Objects of a kind whose controlling ownerReference is `owner` (by uid)."""
        uid = owner["metadata"]["uid"]
        rows = await asyncio.to_thread(self.rs.list, group, plural,
                                       owner["metadata"].get("namespace") or "")
        # Matched on the stored body before it is copied into an object: a Job's pass reads
        # its namespace's pods, most of them not its own (or long finished).
        return [to_object(row) for row in rows
                if (controller_of(row.body) or {}).get("uid") == uid]

    async def create(self, obj: dict[str, Any], owner: dict[str, Any] | None = None
                     ) -> dict[str, Any] | None:
        """Create `obj` (validated as the API would), owned by `owner`. None if the name is
        taken: the caller's next pass sees the object that holds it."""
        obj = copy.deepcopy(obj)
        if owner is not None:
            obj.setdefault("metadata", {})["ownerReferences"] = [owner_ref(owner)]
        info = kinds.kind_for(obj["apiVersion"], obj["kind"])
        validate(obj, info)
        key = key_of(obj)
        body, labels = _spec_side(obj)
        try:
            row = await asyncio.to_thread(self.rs.create, key, version=info.version,
                                          kind=info.kind, labels=labels, body=body,
                                          status=obj.get("status") or {})
        except store_errors.Conflict:
            return None
        return to_object(row)

    async def update(self, obj: dict[str, Any], *, check: bool = True) -> dict[str, Any] | None:
        """Write the spec side of `obj`; with `check`, only if nobody wrote since it was
        read (None then: the newer object comes back to the controller)."""
        body, labels = _spec_side(obj)
        rv = int(obj["metadata"]["resourceVersion"]) if check else None
        try:
            row = await asyncio.to_thread(self.rs.write, key_of(obj), rv, body=body,
                                          labels=labels)
        except (store_errors.Conflict, store_errors.NotFound):
            return None
        return to_object(row)

    async def write_status(self, obj: dict[str, Any], status: dict[str, Any]
                           ) -> dict[str, Any] | None:
        if status == (obj.get("status") or {}):
            return obj
        try:
            row = await asyncio.to_thread(self.rs.write, key_of(obj), None, status=status)
        except store_errors.NotFound:
            return None
        return to_object(row)

    async def delete(self, obj: dict[str, Any]) -> bool:
        try:
            await asyncio.to_thread(self.rs.delete, key_of(obj))
        except store_errors.NotFound:
            return False
        return True

    async def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record an event, off the caller's path: events say what happened, they are not
        what anything decides by, so a pod's start does not wait for them. They are written
        in the order given (one writer drains them)."""
        meta = obj["metadata"]
        self._pending.append((obj["kind"], meta.get("namespace") or "", meta["name"], reason,
                              message, type_))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            await asyncio.to_thread(self._write_events, batch)

    def _write_events(self, batch: list[tuple[str, str, str, str, str, str]]) -> None:
        for kind, ns, name, reason, message, type_ in batch:
            self.rs.add_event(kind, ns, name, reason, message, type_)

    async def flush_events(self) -> None:
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
