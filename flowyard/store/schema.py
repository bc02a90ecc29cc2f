"""Tables. Every change here comes with an Alembic revision in migrations/versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """SQLite forgets time zones; every timestamp leaves the store as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Experiment(Base):
    __tablename__ = "experiments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    namespace: Mapped[str] = mapped_column(String(255), default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Run(Base):
    __tablename__ = "runs"
    # An experiment's runs, newest first, without sorting them (revision 0003).
    __table_args__ = (Index("ix_runs_experiment_created", "experiment_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(255))
    pipeline_name: Mapped[str] = mapped_column(String(255), default="")
    experiment_id: Mapped[str | None] = mapped_column(ForeignKey("experiments.id"), index=True)
    state: Mapped[str] = mapped_column(String(32), default="PENDING", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    platform_spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enable_caching: Mapped[bool] = mapped_column(Boolean, default=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Who drives the run ("host:pid"); a server restart resumes runs whose driver is gone.
    driver: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Control plane (revision 0003): what the KFP API shows about where a run came from.
    description: Mapped[str] = mapped_column(Text, default="")
    pipeline_id: Mapped[str | None] = mapped_column(String(36))
    pipeline_version_id: Mapped[str | None] = mapped_column(String(36))
    recurring_run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    scheduled_at: Mapped[datetime | None]
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    pipeline_root: Mapped[str] = mapped_column(Text, default="")
    service_account: Mapped[str] = mapped_column(String(255), default="")


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_run_path", "run_id", "path", unique=True),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    parent_id: Mapped[str | None] = mapped_column(String(36))
    # Unique within the run: the chain of task names (and loop indices) from the root DAG.
    path: Mapped[str] = mapped_column(String(1024))
    name: Mapped[str] = mapped_column(String(255))
    component: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(32), default="container")
    state: Mapped[str] = mapped_column(String(32), default="PENDING")
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cache_key: Mapped[str | None] = mapped_column(String(64), index=True)
    cached_from: Mapped[str | None] = mapped_column(String(36))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    log_path: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Artifact(Base):
    __tablename__ = "artifacts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(255))
    schema_title: Mapped[str] = mapped_column(String(255), default="system.Artifact")
    uri: Mapped[str] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Metric(Base):
    __tablename__ = "metrics"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    artifact_id: Mapped[str | None] = mapped_column(String(36))
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[float] = mapped_column(Float)
    step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    object_kind: Mapped[str] = mapped_column(String(64), default="")
    object_name: Mapped[str] = mapped_column(String(255), default="")
    object_namespace: Mapped[str] = mapped_column(String(253), default="")  # 0003
    type: Mapped[str] = mapped_column(String(16), default="Normal")
    reason: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Secret(Base):
    """A secret's values, encrypted with the home's key: never plain text in the database."""

    __tablename__ = "secrets"
    name: Mapped[str] = mapped_column(String(253), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(253), primary_key=True, default="default")
    kind: Mapped[str] = mapped_column(String(16), primary_key=True, default="Secret")
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Volume(Base):
    """A named local volume: what a PersistentVolumeClaim means on one machine."""

    __tablename__ = "volumes"
    name: Mapped[str] = mapped_column(String(253), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(253), primary_key=True, default="default")
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[str] = mapped_column(String(32), default="")
    created_by_run: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The control plane (issue 4): pipelines as the KFP API stores them, recurring runs, and
# Kubeflow-shaped resources. Columns the control plane needs on older tables are declared
# on those classes above and added by revision 0003.


class Pipeline(Base):
    __tablename__ = "pipelines"
    __table_args__ = (Index("ix_pipelines_ns_name", "namespace", "name", unique=True),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    namespace: Mapped[str] = mapped_column(String(255), default="")
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PipelineVersion(Base):
    __tablename__ = "pipeline_versions"
    __table_args__ = (Index("ix_pipeline_versions_name", "pipeline_id", "name", unique=True),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    platform_spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    code_source_url: Mapped[str] = mapped_column(Text, default="")
    package_url: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class RecurringRun(Base):
    """A schedule that starts runs. `last_fire_at` is the schedule time of the newest run it
    started: the next fire time is derived from it, so a restart neither skips nor repeats."""

    __tablename__ = "recurring_runs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    namespace: Mapped[str] = mapped_column(String(255), default="")
    experiment_id: Mapped[str | None] = mapped_column(ForeignKey("experiments.id"), index=True)
    pipeline_id: Mapped[str | None] = mapped_column(String(36))
    pipeline_version_id: Mapped[str | None] = mapped_column(String(36))
    # Inline pipeline (or a copy of the referenced version's): runs never depend on a
    # version row that may be deleted later.
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    platform_spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    inline_spec: Mapped[bool] = mapped_column(Boolean, default=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pipeline_root: Mapped[str] = mapped_column(Text, default="")
    service_account: Mapped[str] = mapped_column(String(255), default="")
    max_concurrency: Mapped[int] = mapped_column(Integer, default=1)
    no_catchup: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    cron: Mapped[str] = mapped_column(String(255), default="")
    interval_second: Mapped[int] = mapped_column(Integer, default=0)
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    # When the schedule was (re-)enabled: fire times before it are never due.
    enabled_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_fire_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Resource(Base):
    """A Kubeflow-shaped object. `resource_version` comes from one counter for all objects,
    so a watch resumes from any version it saw; deleting leaves a tombstone a watch reports."""

    __tablename__ = "resources"
    __table_args__ = (
        Index("ix_resources_key", "group", "plural", "namespace", "name", unique=True),
    )
    uid: Mapped[str] = mapped_column(String(36), primary_key=True)
    group: Mapped[str] = mapped_column(String(253))
    version: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(128), index=True)
    plural: Mapped[str] = mapped_column(String(128))
    namespace: Mapped[str] = mapped_column(String(253))
    name: Mapped[str] = mapped_column(String(253))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resource_version: Mapped[int] = mapped_column(Integer, index=True)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResourceChange(Base):
    """One row per write to a resource, numbered by its resourceVersion: what a watch replays,
    so no change is lost between two polls."""

    __tablename__ = "resource_changes"
    __table_args__ = (Index("ix_resource_changes_kind", "group", "plural", "resource_version"),)
    resource_version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    uid: Mapped[str] = mapped_column(String(36))
    group: Mapped[str] = mapped_column(String(253))
    plural: Mapped[str] = mapped_column(String(128))
    namespace: Mapped[str] = mapped_column(String(253))
    type: Mapped[str] = mapped_column(String(16))  # ADDED | MODIFIED | DELETED
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    object: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Counter(Base):
    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
