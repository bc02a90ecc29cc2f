"""Store: every read and write of Flowyard's state goes through here.

Each method is one short transaction, so a crash between two calls leaves the database in
the state of the last finished call."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from flowyard.config import settings
from flowyard.store.db import make_engine, migrate
from flowyard.store.inserts import insert_if_absent
from flowyard.store.schema import Artifact, Event, Experiment, Metric, Run, Task, utcnow

TERMINAL_RUN_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"})
# A task in one of these states is never executed again by a resume or a retry; a SKIPPED
# task is decided again, since what made it skip (a failed upstream) may have changed.
DONE_TASK_STATES = frozenset({"SUCCEEDED", "CACHED"})


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class ArtifactRecord:
    name: str
    schema_title: str
    uri: str
    metadata: dict[str, Any]
    id: str = ""


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._session = sessionmaker(engine, expire_on_commit=False)

    def session(self) -> Session:
        return self._session()

    # experiments -------------------------------------------------------------------
    def experiment_by_name(self, name: str, create: bool = True) -> Experiment | None:
        """The experiment named `name`; with `create`, made on first use. Submissions racing
        to make it all get the one that was made."""
        find = select(Experiment).where(Experiment.name == name)
        with self.session() as s:
            exp = s.scalar(find)
        if exp is not None or not create:
            return exp
        with self.session() as s, s.begin():
            insert_if_absent(s, Experiment, id=new_id(), name=name, description="")
            return s.scalar(find)

    def get_experiment(self, experiment_id: str) -> Experiment | None:
        with self.session() as s:
            return s.get(Experiment, experiment_id)

    # runs --------------------------------------------------------------------------
    def create_run(self, **fields: Any) -> Run:
        fields.setdefault("id", new_id())
        with self.session() as s, s.begin():
            run = Run(**fields)
            s.add(run)
        return run

    def get_run(self, run_id: str) -> Run | None:
        with self.session() as s:
            return s.get(Run, run_id)

    def find_run(self, prefix: str) -> Run | None:
        """A run by its id or an unambiguous prefix of it, as `git` resolves commits."""
        found = self.runs_matching(prefix, limit=2)
        return found[0] if len(found) == 1 else None

    def runs_matching(self, prefix: str, limit: int = 10) -> list[Run]:
        """The run whose id is `prefix`, else up to `limit` runs whose id starts with it
        (newest first): more than one means the prefix is ambiguous."""
        run = self.get_run(prefix)
        if run is not None:
            return [run]
        if not prefix:
            return []
        with self.session() as s:
            return list(s.scalars(select(Run).where(Run.id.startswith(prefix, autoescape=True))
                                  .order_by(Run.created_at.desc()).limit(limit)))

    def list_runs(
        self, limit: int = 50, offset: int = 0, experiment_id: str | None = None,
        states: Sequence[str] | None = None,
    ) -> list[Run]:
        q = select(Run).order_by(Run.created_at.desc(), Run.id)
        if experiment_id:
            q = q.where(Run.experiment_id == experiment_id)
        if states:
            q = q.where(Run.state.in_(list(states)))
        with self.session() as s:
            return list(s.scalars(q.limit(limit).offset(offset)))

    def count_runs(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(Run)) or 0

    def update_run(self, run_id: str, **fields: Any) -> None:
        with self.session() as s, s.begin():
            s.execute(update(Run).where(Run.id == run_id).values(**fields))

    def request_cancel(self, run_id: str) -> bool:
        with self.session() as s, s.begin():
            res = s.execute(
                update(Run)
                .where(Run.id == run_id, Run.state.not_in(list(TERMINAL_RUN_STATES)))
                .values(cancel_requested=True)
            )
            return bool(res.rowcount)

    def cancel_requested(self, run_id: str) -> bool:
        with self.session() as s:
            return bool(s.scalar(select(Run.cancel_requested).where(Run.id == run_id)))

    def delete_run(self, run_id: str) -> None:
        with self.session() as s, s.begin():
            for table in (Metric, Artifact, Task):
                s.execute(delete(table).where(table.run_id == run_id))
            s.execute(delete(Event).where(Event.run_id == run_id))
            s.execute(delete(Run).where(Run.id == run_id))

    # tasks -------------------------------------------------------------------------
    def tasks(self, run_id: str) -> list[Task]:
        with self.session() as s:
            return list(s.scalars(select(Task).where(Task.run_id == run_id).order_by(
                Task.created_at, Task.path)))

    def tasks_by_path(self, run_id: str) -> dict[str, Task]:
        return {t.path: t for t in self.tasks(run_id)}

    def get_task(self, task_id: str) -> Task | None:
        with self.session() as s:
            return s.get(Task, task_id)

    def upsert_task(self, run_id: str, path: str, **fields: Any) -> Task:
        """The task at `path`, created on first sight; a resumed run finds its old row."""
        with self.session() as s, s.begin():
            task = s.scalar(select(Task).where(Task.run_id == run_id, Task.path == path))
            if task is None:
                task = Task(id=new_id(), run_id=run_id, path=path, **fields)
                s.add(task)
            else:
                for k, v in fields.items():
                    setattr(task, k, v)
        return task

    def update_task(self, task_id: str, **fields: Any) -> None:
        # A Core statement on a plain connection: an ORM Session adds ~0.5 ms per call.
        with self.engine.begin() as conn:
            conn.execute(update(Task).where(Task.id == task_id).values(**fields))

    def finish_task(
        self,
        task_id: str,
        run_id: str,
        state: str,
        outputs: dict[str, Any],
        artifacts: Iterable[ArtifactRecord] = (),
        error: str | None = None,
        **fields: Any,
    ) -> list[ArtifactRecord]:
        """Record a task's end, its output artifacts and their metrics in one transaction:
        either all of it is stored or none of it."""
        stored: list[ArtifactRecord] = []
        with self.session() as s, s.begin():
            s.execute(delete(Artifact).where(Artifact.task_id == task_id))
            s.execute(delete(Metric).where(Metric.task_id == task_id))
            for art in artifacts:
                art_id = art.id or new_id()
                s.add(Artifact(id=art_id, run_id=run_id, task_id=task_id, name=art.name,
                               schema_title=art.schema_title, uri=art.uri,
                               metadata_=art.metadata))
                if art.schema_title == "system.Metrics":
                    for key, value in art.metadata.items():
                        if isinstance(value, int | float) and not isinstance(value, bool):
                            s.add(Metric(run_id=run_id, task_id=task_id, artifact_id=art_id,
                                         key=key, value=float(value)))
                stored.append(ArtifactRecord(art.name, art.schema_title, art.uri,
                                             art.metadata, art_id))
            s.execute(update(Task).where(Task.id == task_id).values(
                state=state, outputs=outputs, error=error, finished_at=utcnow(), **fields))
        return stored

    def find_cached(self, cache_key: str) -> Task | None:
        with self.session() as s:
            return s.scalars(
                select(Task)
                .where(Task.cache_key == cache_key, Task.state == "SUCCEEDED")
                .order_by(Task.finished_at.desc())
                .limit(1)
            ).first()

    # artifacts, metrics, events ----------------------------------------------------
    def artifacts(self, run_id: str) -> list[Artifact]:
        with self.session() as s:
            return list(s.scalars(select(Artifact).where(Artifact.run_id == run_id)))

    def find_artifact_by_uri(self, uri: str) -> Artifact | None:
        with self.session() as s:
            return s.scalars(select(Artifact).where(Artifact.uri == uri)
                             .order_by(Artifact.created_at).limit(1)).first()

    def metrics(self, run_id: str) -> list[Metric]:
        with self.session() as s:
            return list(s.scalars(select(Metric).where(Metric.run_id == run_id)))

    def add_event(self, reason: str, message: str, *, type: str = "Normal",
                  run_id: str | None = None, task_id: str | None = None,
                  object_kind: str = "", object_name: str = "") -> None:
        with self.session() as s, s.begin():
            s.add(Event(reason=reason, message=message, type=type, run_id=run_id,
                        task_id=task_id, object_kind=object_kind, object_name=object_name))

    def events(self, run_id: str) -> list[Event]:
        with self.session() as s:
            return list(s.scalars(select(Event).where(Event.run_id == run_id).order_by(Event.id)))


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def open_store(url: str | None = None) -> Store:
    """The store for `url` (default: from the environment), migrated to the newest schema.
    One engine per URL per process."""
    url = url or settings().database_url
    store = _stores.get(url)
    if store is None:
        # Two threads opening the same new database would both run its migrations.
        with _stores_lock:
            store = _stores.get(url)
            if store is None:
                engine = make_engine(url)
                migrate(engine)
                store = _stores[url] = Store(engine)
    return store


def now() -> datetime:
    return utcnow()
