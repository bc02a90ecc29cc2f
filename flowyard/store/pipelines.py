"""Pipelines and their versions, as the KFP API keeps them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from flowyard.store.errors import Conflict, NotFound
from flowyard.store.schema import Pipeline, PipelineVersion
from flowyard.store.store import Store, new_id


class PipelineStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, *, display_name: str = "", description: str = "",
               namespace: str = "", tags: dict[str, Any] | None = None,
               version: dict[str, Any] | None = None) -> tuple[Pipeline, PipelineVersion | None]:
        """A pipeline, and with `version` its first version, in one transaction: an upload
        whose version is invalid leaves no empty pipeline behind."""
        pipe = Pipeline(id=new_id(), name=name, display_name=display_name or name,
                        description=description, namespace=namespace, tags=tags or {})
        ver = None
        try:
            with self.store.session() as s, s.begin():
                s.add(pipe)
                s.flush()
                if version is not None:
                    ver = PipelineVersion(id=new_id(), pipeline_id=pipe.id, **version)
                    s.add(ver)
        except IntegrityError as exc:
            raise Conflict(f"a pipeline named {name!r} already exists") from exc
        return pipe, ver

    def add_version(self, pipeline_id: str, **fields: Any) -> PipelineVersion:
        ver = PipelineVersion(id=new_id(), pipeline_id=pipeline_id, **fields)
        try:
            with self.store.session() as s, s.begin():
                if s.get(Pipeline, pipeline_id) is None:
                    raise NotFound(f"no pipeline {pipeline_id}")
                s.add(ver)
        except IntegrityError as exc:
            raise Conflict(f"pipeline {pipeline_id} already has a version named "
                           f"{fields.get('name')!r}") from exc
        return ver

    def get(self, pipeline_id: str) -> Pipeline:
        with self.store.session() as s:
            row = s.get(Pipeline, pipeline_id)
        if row is None:
            raise NotFound(f"no pipeline {pipeline_id}")
        return row

    def by_name(self, name: str, namespace: str = "") -> Pipeline:
        with self.store.session() as s:
            row = s.scalar(select(Pipeline).where(Pipeline.name == name,
                                                  Pipeline.namespace == namespace))
        if row is None:
            raise NotFound(f"no pipeline named {name!r}")
        return row

    def version(self, version_id: str, pipeline_id: str | None = None) -> PipelineVersion:
        with self.store.session() as s:
            row = s.get(PipelineVersion, version_id)
        if row is None or (pipeline_id and row.pipeline_id != pipeline_id):
            where = f" of pipeline {pipeline_id}" if pipeline_id else ""
            raise NotFound(f"no pipeline version {version_id}{where}")
        return row

    def latest_version(self, pipeline_id: str) -> PipelineVersion:
        with self.store.session() as s:
            row = s.scalars(select(PipelineVersion).where(PipelineVersion.pipeline_id == pipeline_id)
                            .order_by(PipelineVersion.created_at.desc()).limit(1)).first()
        if row is None:
            raise NotFound(f"pipeline {pipeline_id} has no versions")
        return row

    def version_count(self, pipeline_id: str) -> int:
        with self.store.session() as s:
            return s.scalar(select(func.count()).select_from(PipelineVersion)
                            .where(PipelineVersion.pipeline_id == pipeline_id)) or 0

    def delete(self, pipeline_id: str, cascade: bool = False) -> None:
        self.get(pipeline_id)
        if not cascade and self.version_count(pipeline_id):
            raise Conflict(f"pipeline {pipeline_id} still has versions: delete them first or "
                           "pass cascade=true")
        with self.store.session() as s, s.begin():
            s.execute(delete(PipelineVersion).where(PipelineVersion.pipeline_id == pipeline_id))
            s.execute(delete(Pipeline).where(Pipeline.id == pipeline_id))

    def delete_version(self, pipeline_id: str, version_id: str) -> None:
        self.version(version_id, pipeline_id)
        with self.store.session() as s, s.begin():
            s.execute(delete(PipelineVersion).where(PipelineVersion.id == version_id))

    def update(self, pipeline_id: str, **fields: Any) -> Pipeline:
        with self.store.session() as s, s.begin():
            row = s.get(Pipeline, pipeline_id)
            if row is None:
                raise NotFound(f"no pipeline {pipeline_id}")
            for k, v in fields.items():
                setattr(row, k, v)
        return row
