"""Kubeflow-shaped objects. Every write takes the next value of one counter as the object's
resourceVersion, so versions order all changes and a watch can resume from any of them."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from flowyard.store.errors import Conflict, NotFound
from flowyard.store.inserts import insert_if_absent
from flowyard.store.schema import Counter, Event, Resource, ResourceChange, utcnow
from flowyard.store.store import Store, new_id


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
                row.body = body
            if labels is not None:
                row.labels = labels
            if status is not None:
                row.status = status
            if version is not None:
                row.version = version
            row.resource_version = _next_version(s)
            row.updated_at = utcnow()
            _log(s, row, "MODIFIED")
        return row

    def delete(self, key: Key) -> Resource:
        with self.store.session() as s, s.begin():
            row = self._find(s, key)
            if row is None or row.deleted:
                raise NotFound(f"{key.plural}.{key.group} {key.name!r} not found in namespace "
                               f"{key.namespace!r}")
            row.deleted = True
            row.resource_version = _next_version(s)
            row.updated_at = utcnow()
            _log(s, row, "DELETED")
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

    def current_version(self) -> int:
        with self.store.session() as s:
            return s.scalar(select(Counter.value).where(Counter.name == "resource_version")) or 0

    def events(self, kind: str, namespace: str, name: str) -> Sequence[Event]:
        with self.store.session() as s:
            return list(s.scalars(select(Event).where(
                Event.object_kind == kind, Event.object_namespace == namespace,
                Event.object_name == name).order_by(Event.id)))

    def add_event(self, kind: str, namespace: str, name: str, reason: str, message: str,
                  type: str = "Normal") -> None:
        with self.store.session() as s, s.begin():
            s.add(Event(object_kind=kind, object_namespace=namespace, object_name=name,
                        reason=reason, message=message, type=type))
