"""Named local volumes: what a PersistentVolumeClaim is on one machine. A volume is a folder
under $FLOWYARD_HOME/volumes that outlives the runs that use it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sqlalchemy import select

from flowyard.config import settings
from flowyard.store.inserts import insert_if_absent
from flowyard.store.schema import Volume
from flowyard.store.store import Store

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"volume name {name!r}: expected a Kubernetes name (lower-case letters, "
                         "digits, '-' and '.', starting and ending with a letter or digit)")
    return name


def claim_volume(namespace: str, claim: str) -> str:
    """The local volume a PersistentVolumeClaim binds: claims are namespaced, so two
    namespaces' claims of one name must not share a folder (nor delete each other's data).
    An undotted claim in `default` keeps its bare name, the one pipelines and `flowyard
    volumes` use; any other is `namespace.claim`. Namespace names have no '.', and a dotted
    claim in `default` is `default.claim`, so no two claims get the same volume."""
    if namespace == "default" and "." not in claim:
        return claim
    return f"{namespace or 'default'}.{claim}"


class VolumeStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, size: str = "", run_id: str | None = None) -> Volume:
        check_name(name)
        with self.store.session() as s, s.begin():
            # Two tasks of one run may claim the same new volume at once.
            insert_if_absent(s, Volume, name=name, namespace="default", size=size,
                             path=str(settings().home / "volumes" / name),
                             created_by_run=run_id)
            row = s.get(Volume, (name, "default"))
        assert row is not None
        Path(row.path).mkdir(parents=True, exist_ok=True)
        return row

    def get(self, name: str) -> Volume | None:
        with self.store.session() as s:
            return s.get(Volume, (name, "default"))

    def list(self) -> list[Volume]:
        with self.store.session() as s:
            return list(s.scalars(select(Volume).order_by(Volume.name)))

    def delete(self, name: str) -> bool:
        with self.store.session() as s, s.begin():
            row = s.get(Volume, (name, "default"))
            if row is None:
                return False
            s.delete(row)
        shutil.rmtree(row.path, ignore_errors=True)
        return True
