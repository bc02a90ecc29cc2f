"""Starting, driving, resuming and reading pipeline runs. `submit` records a run; `drive`
executes a recorded run to the end. A run whose driver died is driven again by `resume`,
which never re-executes a task that had finished."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flowyard.artifacts import ArtifactStore
from flowyard.config import settings
from flowyard.executors import get_executor
from flowyard.executors.logs import iter_log
from flowyard.pipelines import arguments as args_mod
from flowyard.pipelines.cancels import watcher_for
from flowyard.pipelines.context import RunContext
from flowyard.pipelines.dag import run_dag
from flowyard.pipelines.errors import PipelineError
from flowyard.pipelines.loader import PipelineDoc, load_pipeline
from flowyard.pipelines.platform_spec import PlatformConfig
from flowyard.pipelines.results import Scope
from flowyard.store import Store, open_store
from flowyard.store.store import DONE_TASK_STATES, TERMINAL_RUN_STATES, now


@dataclass
class TaskView:
    id: str
    name: str
    path: str
    kind: str
    state: str
    outputs: dict[str, Any]
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    log_path: str | None
    cached_from: str | None = None
    parent_id: str | None = None


@dataclass
class Run:
    id: str
    name: str
    pipeline_name: str
    state: str
    outputs: dict[str, Any]
    error: str | None
    arguments: dict[str, Any]
    created_at: datetime | None
    finished_at: datetime | None
    tasks: list[TaskView] = field(default_factory=list)

    @classmethod
    def load(cls, run_id: str, store: Store | None = None) -> Run:
        store = store or open_store()
        row = store.get_run(run_id)
        if row is None:
            raise KeyError(f"no run {run_id}")
        tasks = [TaskView(t.id, t.name, t.path, t.kind, t.state, t.outputs or {}, t.error,
                          t.started_at, t.finished_at, t.log_path, t.cached_from, t.parent_id)
                 for t in store.tasks(run_id)]
        return cls(row.id, row.display_name, row.pipeline_name, row.state, row.outputs or {},
                   row.error, row.arguments or {}, row.created_at, row.finished_at, tasks)

    def task(self, name_or_path: str) -> TaskView:
        for t in self.tasks:
            if t.path == name_or_path:
                return t
        matches = [t for t in self.tasks if t.name == name_or_path]
        if not matches:
            raise KeyError(f"run {self.id} has no task {name_or_path!r}")
        return matches[0]

    def logs(self, task: str) -> str:
        """The task's whole log as text (for a bounded log; stream big ones with
        `flowyard.executors.logs.iter_log`)."""
        path = self.task(task).log_path
        if not path:
            return ""
        return b"".join(iter_log(path)).decode(errors="replace")


def submit(doc: PipelineDoc, arguments: dict[str, Any], *, experiment: str | None = None,
           enable_caching: bool = True, run_name: str | None = None,
           store: Store | None = None) -> str:
    """Check the pipeline and its arguments and record a PENDING run. Raises PipelineError."""
    store = store or open_store()
    bound = args_mod.bind(doc.spec, arguments)
    exp = store.experiment_by_name(experiment or "Default")
    assert exp is not None
    stamp = now().strftime("%Y-%m-%d %H:%M:%S")
    run = store.create_run(
        display_name=run_name or f"{doc.name} {stamp}", pipeline_name=doc.name,
        experiment_id=exp.id, state="PENDING", spec=doc.spec, platform_spec=doc.platform_spec,
        arguments=bound, enable_caching=enable_caching)
    return run.id


def run_pipeline(pipeline: Any, arguments: dict[str, Any], **kwargs: Any) -> Run:
    doc = load_pipeline(pipeline)
    run_id = submit(doc, arguments, **kwargs)
    asyncio.run(drive(run_id))
    return Run.load(run_id)


def _driver() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def check_not_driven(row: Any) -> None:
    """Refuse to resume a run whose driver on this machine is still alive: both would run
    its tasks (the resumer even kills the live driver's task processes as orphans)."""
    host, _, pid = (row.driver or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return
    if state != "Z":
        raise PipelineError(f"run {row.id} is still being driven by process {pid}; cancel it "
                            f"(flowyard runs cancel {row.id}) or wait for it to end")


async def drive(run_id: str, *, resume: bool = False, store: Store | None = None) -> str:
    """Execute a recorded run to its end and return its final state."""
    store = store or open_store()
    row = store.get_run(run_id)
    if row is None:
        raise PipelineError(f"no run {run_id}")
    if row.state in TERMINAL_RUN_STATES:
        return row.state
    cfg = settings()
    done: dict[str, Any] = {}
    inflight: dict[str, str] = {}
    known: set[str] = set()
    if resume:
        check_not_driven(row)
        rows = store.tasks(run_id)
        done = {t.path: t for t in rows if t.state in DONE_TASK_STATES}
        # What was in flight is adopted (its process kept, its result recorded), not rerun.
        inflight = {t.id: t.state for t in rows if t.state in ("PENDING", "RUNNING")}
        known = {t.path for t in rows}
    name = row.pipeline_name or "pipeline"
    ctx = RunContext(
        # KFP's {{$.pipeline_job_name}} is the run's display name, not the pipeline's name.
        run_id=run_id, job_name=row.display_name or name, resource_name=f"{name}-{run_id[:8]}",
        create_time=(row.created_at or now()).isoformat(), spec=row.spec, store=store,
        executor=get_executor(), artifacts=ArtifactStore(cfg.artifact_root),
        settings=cfg, platform=PlatformConfig.from_spec(row.platform_spec),
        enable_caching=row.enable_caching, done=done, inflight=inflight,
        known_paths=known)
    store.update_run(run_id, state="RUNNING", driver=_driver(),
                     started_at=row.started_at or now())
    root = ctx.root = asyncio.current_task()
    assert root is not None
    watcher = watcher_for(store)
    watcher.watch(run_id, root)
    state, error, outputs = "FAILED", None, {}
    try:
        state, dag_out = await run_dag(ctx, row.spec["root"], Scope(dict(row.arguments), {}),
                                       "", None)
        outputs = _pipeline_outputs(dag_out)
        if state != "SUCCEEDED":
            error = _first_error(store, run_id)
    except asyncio.CancelledError:
        state, error = "CANCELED", "the run was canceled"
        if ctx.abort_error is not None:
            # The engine stopped the run itself; the cancel that did it is not the caller's.
            state, error = "FAILED", ctx.abort_error
            if root.uncancel() > 0 and not store.cancel_requested(run_id):
                raise
        elif not store.cancel_requested(run_id):
            raise
    finally:
        watcher.forget(run_id)
        store.update_run(run_id, state=state, error=error, outputs=outputs, finished_at=now(),
                         driver=None)
    return state


def _pipeline_outputs(dag_out: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = dict(dag_out["parameters"])
    for name, arts in dag_out["artifacts"].items():
        views = [{"uri": a["uri"], "type": a["type"]["schemaTitle"],
                  "metadata": a.get("metadata", {})} for a in arts]
        out[name] = views[0] if len(views) == 1 else views
    return out


def _first_error(store: Store, run_id: str) -> str | None:
    for t in store.tasks(run_id):
        if t.state == "FAILED" and t.kind in ("container", "importer"):
            return f"task {t.name} failed: {t.error}"
    for t in store.tasks(run_id):
        if t.state == "FAILED":
            return f"task {t.name} failed: {t.error}"
    return None


def reopen(run_id: str, store: Store | None = None) -> None:
    """Make a FAILED or CANCELED run runnable again (KFP's "retry"): a following
    `drive(run_id, resume=True)` re-executes only what did not finish."""
    store = store or open_store()
    row = store.get_run(run_id)
    if row is None:
        raise PipelineError(f"no run {run_id}")
    if row.state not in ("FAILED", "CANCELED"):
        raise PipelineError(f"run {run_id} is {row.state}; only FAILED or CANCELED runs can be "
                            "retried")
    store.update_run(run_id, state="PENDING", cancel_requested=False, error=None,
                     finished_at=None)


def resume(run_id: str, store: Store | None = None) -> Run:
    store = store or open_store()
    row = store.get_run(run_id)
    if row is None:
        raise PipelineError(f"no run {run_id}")
    if row.state in TERMINAL_RUN_STATES:
        raise PipelineError(f"run {run_id} already ended ({row.state}); nothing to resume")
    asyncio.run(drive(run_id, resume=True, store=store))
    return Run.load(run_id, store)
