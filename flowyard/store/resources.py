"""Kubeflow-shaped objects. Every write takes the next value of one counter as the object's
resourceVersion, so versions order all changes and a watch can resume from any of them."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from flowyard.store.errors import Conflict, NotFound
from flowyard.store.inserts import insert_if_absent
from flowyard.store.schema import Counter, Event, Resource, ResourceChange, utcnow
from flowyard.store.store import Store, new_id

# Called with the new resourceVersion after every committed write in this process, so
# watches here wake at once; writes from other processes are found by polling the change log.
_listeners: list[Callable[[int], None]] = []


def on_change(listener: Callable[[int], None]) -> None:
    _listeners.append(listener)


def _notify(rv: int) -> None:
    for listener in list(_listeners):
        # A listener's failure must not fail the write that succeeded.
        with contextlib.suppress(Exception):
            listener(rv)


def now_ts() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _finalizers(body: dict[str, Any]) -> list[str]:
    return list((body.get("metadata") or {}).get("finalizers") or [])


def _ts(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


@dataclass(frozen=True)
class Key:
    group: str
    plural: str
    namespace: str
    name: str


def _next_version(s: Session) -> int:
    # An UPDATE takes the row lock on PostgreSQL and the write lock on SQLite: two writers
    # never get the same version.
    bump = update(Counter).where(Counter.name == "resource_version").values(
        value=Counter.value + 1)
    if not s.execute(bump).rowcount:
        # The first write ever: two first writers must not both insert the counter.
        insert_if_absent(s, Counter, name="resource_version", value=0)
        s.execute(bump)
    value = s.scalar(select(Counter.value).where(Counter.name == "resource_version"))
    assert value is not None
    return value


def to_object(row: Resource) -> dict[str, Any]:
    """The object as the API shows it: the stored spec side plus server-set metadata."""
    obj = copy.deepcopy(row.body)
    meta = obj.setdefault("metadata", {})
    meta.update(name=row.name, uid=row.uid, resourceVersion=str(row.resource_version),
                generation=row.generation, creationTimestamp=_ts(row.created_at))
    if row.namespace:
        meta["namespace"] = row.namespace
    if row.labels:
        meta["labels"] = row.labels
    obj["apiVersion"] = f"{row.group}/{row.version}" if row.group else row.version
    obj["kind"] = row.kind
    if row.status:
        obj["status"] = row.status
    return obj


def _log(s: Session, row: Resource, type_: str) -> None:
    s.add(ResourceChange(resource_version=row.resource_version, uid=row.uid, group=row.group,
                         plural=row.plural, namespace=row.namespace, type=type_,
                         labels=row.labels or {}, object=to_object(row)))


class ResourceStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _find(self, s: Session, key: Key) -> Resource | None:
        return s.scalar(select(Resource).where(
            Resource.group == key.group, Resource.plural == key.plural,
            Resource.namespace == key.namespace, Resource.name == key.name))

    def get(self, key: Key) -> Resource:
        with self.store.session() as s:
            row = self._find(s, key)
        if row is None or row.deleted:
            raise NotFound(f"{key.plural}.{key.group} {key.name!r} not found in namespace "
                           f"{key.namespace!r}")
        return row

    def create(self, key: Key, *, version: str, kind: str, labels: dict[str, Any],
               body: dict[str, Any], status: dict[str, Any]) -> Resource:
        exists = Conflict(f"{kind} {key.name!r} already exists in namespace {key.namespace!r}")
        try:
            return self._create(key, exists, version=version, kind=kind, labels=labels,
                                body=body, status=status)
        except (IntegrityError, StaleDataError):  # a concurrent create got there first
            raise exists from None

    def _create(self, key: Key, exists: Conflict, *, version: str, kind: str,
                labels: dict[str, Any], body: dict[str, Any], status: dict[str, Any]
                ) -> Resource:
        with self.store.session() as s, s.begin():
            row = self._find(s, key)
            if row is not None and not row.deleted:
                raise exists
            rv = _next_version(s)
            if row is None:
                row = Resource(uid=new_id(), group=key.group, plural=key.plural,
                               namespace=key.namespace, name=key.name, created_at=utcnow())
                s.add(row)
            else:  # a tombstone: the name is reused by a new object with a new uid
                row.uid, row.created_at = new_id(), utcnow()
            row.version, row.kind, row.labels, row.body, row.status = (
                version, kind, labels, body, status)
            row.resource_version, row.generation, row.deleted = rv, 1, False
            row.updated_at = utcnow()
            _log(s, row, "ADDED")
        _notify(rv)
        return row

    def write(self, key: Key, expected_rv: int | None, *, body: dict[str, Any] | None = None,
              labels: dict[str, Any] | None = None, status: dict[str, Any] | None = None,
              version: str | None = None) -> Resource:
        """Replace the spec side (`body`, `labels`) and/or the status. With `expected_rv`,
        fail with Conflict if someone else wrote since that version."""
        with self.store.session() as s, s.begin():
            row = self._find(s, key)
            if row is None or row.deleted:
                raise NotFound(f"{key.plural}.{key.group} {key.name!r} not found in namespace "
                               f"{key.namespace!r}")
            if expected_rv is not None and expected_rv != row.resource_version:
                raise Conflict(
                    f"the object has been modified (resourceVersion {row.resource_version}, "
                    f"you sent {expected_rv}): read it again and apply your change to it")
            unchanged = ((body is None or body == row.body)
                         and (labels is None or labels == (row.labels or {}))
                         and (status is None or status == (row.status or {}))
                         and (version is None or version == row.version))
            if unchanged:
                return row  # a no-op write keeps its resourceVersion, as in Kubernetes
            if body is not None:
                if body.get("spec") != row.body.get("spec"):
                    row.generation += 1
                # deletionTimestamp is the server's to set; a client's write keeps it.
                deleting = (row.body.get("metadata") or {}).get("deletionTimestamp")
                body = copy.deepcopy(body)
                body.setdefault("metadata", {}).pop("deletionTimestamp", None)
                if deleting:
                    body["metadata"]["deletionTimestamp"] = deleting
                row.body = body
            if labels is not None:
                row.labels = labels
            if status is not None:
                row.status = status
            if version is not None:
                row.version = version
            row.resource_version = _next_version(s)
            row.updated_at = utcnow()
            if (row.body.get("metadata") or {}).get("deletionTimestamp") and not _finalizers(
                    row.body):
                # The last finalizer is gone: the object goes, as in Kubernetes.
                _log(s, row, "MODIFIED")
                row.deleted = True
                row.resource_version = _next_version(s)
                _log(s, row, "DELETED")
            else:
                _log(s, row, "MODIFIED")
            rv = row.resource_version
        _notify(rv)
        return row

    def delete(self, key: Key, add_finalizers: Sequence[str] = (),
               uid: str | None = None) -> Resource:
        """Delete the object, or, while it has finalizers (or `add_finalizers`, such as
        foregroundDeletion), mark it with deletionTimestamp and keep it until they are
        removed. `row.deleted` tells which happened."""
        with self.store.session() as s, s.begin():
            row = self._find(s, key)
            if row is None or row.deleted:
                raise NotFound(f"{key.plural}.{key.group} {key.name!r} not found in namespace "
                               f"{key.namespace!r}")
            if uid is not None and uid != row.uid:
                raise Conflict(f"the object's uid is {row.uid}, not {uid} (precondition)")
            finalizers = _finalizers(row.body)
            finalizers += [f for f in add_finalizers if f not in finalizers]
            if finalizers:
                body = copy.deepcopy(row.body)
                meta = body.setdefault("metadata", {})
                if meta.get("deletionTimestamp") and meta.get("finalizers") == finalizers:
                    return row  # already being deleted: nothing changes
                meta.setdefault("deletionTimestamp", now_ts())
                meta["deletionGracePeriodSeconds"] = 0
                meta["finalizers"] = finalizers
                row.body = body
                row.resource_version = _next_version(s)
                row.updated_at = utcnow()
                _log(s, row, "MODIFIED")
            else:
                row.deleted = True
                row.resource_version = _next_version(s)
                row.updated_at = utcnow()
                _log(s, row, "DELETED")
            rv = row.resource_version
        _notify(rv)
        return row

    def list(self, group: str, plural: str, namespace: str | None = None,
             since: int | None = None) -> list[Resource]:
        """Live objects; with `since`, every object (tombstones included) written after that
        resourceVersion, oldest change first: what a watch reports."""
        q = select(Resource).where(Resource.group == group, Resource.plural == plural)
        if namespace is not None:
            q = q.where(Resource.namespace == namespace)
        if since is None:
            q = q.where(Resource.deleted.is_(False)).order_by(Resource.namespace, Resource.name)
        else:
            q = q.where(Resource.resource_version > since).order_by(Resource.resource_version)
        with self.store.session() as s:
            return list(s.scalars(q))

    def history(self, group: str, plural: str, namespace: str | None, since: int,
                limit: int = 1000) -> list[ResourceChange]:
        """Every write to objects of a kind after `since`, in order: what a watch reports."""
        q = select(ResourceChange).where(ResourceChange.group == group,
                                         ResourceChange.plural == plural,
                                         ResourceChange.resource_version > since)
        if namespace is not None:
            q = q.where(ResourceChange.namespace == namespace)
        with self.store.session() as s:
            return list(s.scalars(q.order_by(ResourceChange.resource_version).limit(limit)))

    def all_history(self, since: int, limit: int = 1000) -> list[ResourceChange]:
        """Every write to any object after `since`, in order: what the watch hub fans out."""
        q = select(ResourceChange).where(ResourceChange.resource_version > since)
        with self.store.session() as s:
            return list(s.scalars(q.order_by(ResourceChange.resource_version).limit(limit)))

    def live(self, namespace: str | None = None) -> list[Resource]:
        """Every live object (of every kind): what the garbage collector looks through."""
        q = select(Resource).where(Resource.deleted.is_(False))
        if namespace is not None:
            q = q.where(Resource.namespace == namespace)
        with self.store.session() as s:
            return list(s.scalars(q))

    def by_uid(self, uid: str) -> Resource | None:
        with self.store.session() as s:
            row = s.get(Resource, uid)
        return row if row is not None and not row.deleted else None

    def compact(self, keep: int = 100_000) -> None:
        """Forget all but the newest `keep` changes; a watch from before them must re-list."""
        from sqlalchemy import delete

        newest = self.current_version()
        with self.store.session() as s, s.begin():
            s.execute(delete(ResourceChange).where(ResourceChange.resource_version <= newest - keep))

    def oldest_change(self) -> int:
        from sqlalchemy import func

        with self.store.session() as s:
            return s.scalar(select(func.min(ResourceChange.resource_version))) or 0

    def changes(self, since: int, limit: int = 500) -> list[Resource]:
        """Objects of every kind written after `since`, oldest change first."""
        with self.store.session() as s:
            return list(s.scalars(select(Resource).where(Resource.resource_version > since)
                                  .order_by(Resource.resource_version).limit(limit)))

    def kinds(self) -> list[tuple[str, str, str]]:
        """(group, plural, kind) of every kind that has live objects."""
        with self.store.session() as s:
            return [tuple(r) for r in s.execute(  # type: ignore[misc]
                select(Resource.group, Resource.plural, Resource.kind)
                .where(Resource.deleted.is_(False)).distinct())]

    def kind_version(self, group: str, plural: str) -> int:
        """The newest resourceVersion among objects of a kind, deleted ones included: it
        changes whenever any of them does."""
        from sqlalchemy import func

        with self.store.session() as s:
            return s.scalar(select(func.max(Resource.resource_version)).where(
                Resource.group == group, Resource.plural == plural)) or 0

    def current_version(self) -> int:
        with self.store.session() as s:
            return s.scalar(select(Counter.value).where(Counter.name == "resource_version")) or 0

    def events(self, kind: str, namespace: str, name: str) -> Sequence[Event]:
        with self.store.session() as s:
            return list(s.scalars(select(Event).where(
                Event.object_kind == kind, Event.object_namespace == namespace,
                Event.object_name == name).order_by(Event.id)))

    def all_events(self, namespace: str | None = None, limit: int = 5000) -> Sequence[Event]:
        """Events about objects (not runs), newest last; of one namespace if given."""
        q = select(Event).where(Event.object_kind != "")
        if namespace is not None:
            q = q.where(Event.object_namespace == namespace)
        with self.store.session() as s:
            rows = list(s.scalars(q.order_by(Event.id.desc()).limit(limit)))
        return rows[::-1]

    def newest_event_id(self) -> int:
        from sqlalchemy import func

        with self.store.session() as s:
            return s.scalar(select(func.max(Event.id))) or 0

    def add_event(self, kind: str, namespace: str, name: str, reason: str, message: str,
                  type: str = "Normal") -> None:
        with self.store.session() as s, s.begin():
            s.add(Event(object_kind=kind, object_namespace=namespace, object_name=name,
                        reason=reason, message=message, type=type))
