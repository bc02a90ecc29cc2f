"""Read models the dashboard needs and the KFP API does not offer: the home summary, the
runs list with the filters people use (experiment, state, pipeline, dates), a run's task tree,
a task's details and log, and runs compared side by side. Plain dicts, like the rest of the
service layer, so the UI never touches SQLAlchemy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from flowyard.executors import logs
from flowyard.services import run_metrics
from flowyard.services.context import Services
from flowyard.services.errors import NotFound
from flowyard.store.query import Page, Predicate, list_page
from flowyard.store.schema import Event, Experiment, Metric, Run, Task
from flowyard.store.store import TERMINAL_RUN_STATES, now

RUN_STATES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "SKIPPED")
ACTIVE_STATES = ("PENDING", "RUNNING")
_COLUMNS = {"created_at": Run.created_at, "state": Run.state, "experiment_id": Run.experiment_id,
            "pipeline_name": Run.pipeline_name, "name": Run.display_name,
            "archived": Run.archived, "id": Run.id, "recurring_run_id": Run.recurring_run_id}
# A list row never reads the spec, arguments or outputs: a page costs the same at 10 or 10,000.
_LIST_LOAD = [Run.id, Run.display_name, Run.pipeline_name, Run.experiment_id, Run.state,
              Run.created_at, Run.started_at, Run.finished_at, Run.error, Run.cancel_requested]


@dataclass
class RunFilter:
    experiment_id: str | None = None
    state: str | None = None
    pipeline: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None
    archived: bool = False
    recurring_run_id: str | None = None


def duration(start: datetime | None, end: datetime | None) -> float | None:
    if start is None:
        return None
    return ((end or now()) - start).total_seconds()


def _run_row(r: Run, exp_names: dict[str, str]) -> dict[str, Any]:
    state = "CANCELING" if r.cancel_requested and r.state not in TERMINAL_RUN_STATES else r.state
    return {"id": r.id, "name": r.display_name, "pipeline": r.pipeline_name,
            "experiment_id": r.experiment_id,
            "experiment": exp_names.get(r.experiment_id or "", ""), "state": state,
            "created_at": r.created_at, "started_at": r.started_at,
            "finished_at": r.finished_at, "duration": duration(r.started_at, r.finished_at),
            "error": r.error}


def _experiment_names(svc: Services, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    with svc.store.session() as s:
        rows = s.execute(select(Experiment.id, Experiment.name).where(Experiment.id.in_(ids)))
        return {i: n for i, n in rows}


def runs_page(svc: Services, flt: RunFilter, page: int = 0, size: int = 25) -> dict[str, Any]:
    """One page of runs, newest first, with the total matching count (all in SQL)."""
    preds = [Predicate("archived", "EQUALS", flt.archived)]
    if flt.experiment_id:
        preds.append(Predicate("experiment_id", "EQUALS", flt.experiment_id))
    if flt.state:
        preds.append(Predicate("state", "EQUALS", flt.state))
    if flt.pipeline:
        preds.append(Predicate("pipeline_name", "EQUALS", flt.pipeline))
    if flt.since:
        preds.append(Predicate("created_at", "GREATER_THAN_EQUALS", flt.since))
    if flt.until:
        preds.append(Predicate("created_at", "LESS_THAN", flt.until))
    if flt.search:
        preds.append(Predicate("name", "IS_SUBSTRING", flt.search))
    if flt.recurring_run_id:
        preds.append(Predicate("recurring_run_id", "EQUALS", flt.recurring_run_id))
    p = Page(preds, "created_at", True, max(page, 0) * size, size)
    rows, total = list_page(svc.store, Run, _COLUMNS, p, load=_LIST_LOAD)
    names = _experiment_names(svc, {r.experiment_id for r in rows if r.experiment_id})
    # Only this page's runs are read for metrics: the cost is a page's, at 10 or 10,000 runs.
    metrics = run_metrics.latest(svc, [r.id for r in rows])
    out = []
    for r in rows:
        d = _run_row(r, names)
        d["metrics"] = metrics.get(r.id, {})
        out.append(d)
    return {"runs": out, "total": total, "page": page, "size": size,
            "metric_columns": run_metrics.columns(metrics)}


def filter_options(svc: Services) -> dict[str, Any]:
    """What the runs filters offer: experiments by name, the pipelines runs came from."""
    with svc.store.session() as s:
        exps = s.execute(select(Experiment.id, Experiment.name).order_by(Experiment.name)).all()
        pipes = s.scalars(select(Run.pipeline_name).distinct().order_by(Run.pipeline_name)).all()
    return {"experiments": {i: n for i, n in exps}, "pipelines": [p for p in pipes if p],
            "states": list(RUN_STATES)}


def home_summary(svc: Services) -> dict[str, Any]:
    day_ago = now() - timedelta(days=1)
    recent = runs_page(svc, RunFilter(), 0, 10)["runs"]
    running = []
    for state in ACTIVE_STATES:
        running += runs_page(svc, RunFilter(state=state), 0, 20)["runs"]
    failed = runs_page(svc, RunFilter(state="FAILED", since=day_ago), 0, 10)
    with svc.store.session() as s:
        counts = dict(s.execute(select(Run.state, func.count()).group_by(Run.state)).all())
    return {"recent": recent, "running": running, "failed_last_day": failed["runs"],
            "failed_count": failed["total"], "counts": counts,
            "total": sum(counts.values())}


def experiments_overview(svc: Services) -> list[dict[str, Any]]:
    """Every experiment with how many runs it holds, by state, when it last ran, and the
    metrics of its newest succeeded run."""
    with svc.store.session() as s:
        exps = s.scalars(select(Experiment).order_by(Experiment.created_at.desc())).all()
        stats = s.execute(select(Run.experiment_id, Run.state, func.count(),
                                 func.max(Run.created_at))
                          .group_by(Run.experiment_id, Run.state)).all()
    by_exp: dict[str, dict[str, Any]] = {}
    for exp_id, state, count, last in stats:
        d = by_exp.setdefault(exp_id or "", {"states": {}, "last": None})
        d["states"][state] = count
        d["last"] = max(d["last"], last) if d["last"] else last
    latest = run_metrics.latest_run_per_experiment(svc, [e.id for e in exps])
    metrics = run_metrics.latest(svc, latest.values())
    out = []
    for e in exps:
        d = by_exp.get(e.id, {"states": {}, "last": None})
        out.append({"id": e.id, "name": e.name, "description": e.description,
                    "archived": e.archived, "created_at": e.created_at,
                    "runs": sum(d["states"].values()), "states": d["states"],
                    "last_run": d["last"], "latest_run_id": latest.get(e.id),
                    "metrics": metrics.get(latest.get(e.id, ""), {})})
    return out


def _task_dict(t: Task) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "path": t.path, "kind": t.kind, "state": t.state,
            "parent_id": t.parent_id, "component": t.component,
            "started_at": t.started_at, "finished_at": t.finished_at,
            "duration": duration(t.started_at, t.finished_at) if t.state != "PENDING" else None,
            "cached_from": t.cached_from, "attempts": t.attempts, "error": t.error,
            "details": t.details or {}}


def run_detail(svc: Services, run_id: str) -> dict[str, Any]:
    """A run with its task tree (flat, parent ids kept) and its artifacts by task."""
    row = svc.store.get_run(run_id)
    if row is None:
        raise NotFound(f"no run {run_id}")
    names = _experiment_names(svc, {row.experiment_id} if row.experiment_id else set())
    run = _run_row(row, names)
    run.update(arguments=row.arguments or {}, outputs=row.outputs or {}, spec=row.spec,
               platform_spec=row.platform_spec, pipeline_id=row.pipeline_id,
               pipeline_version_id=row.pipeline_version_id, description=row.description)
    tasks = [_task_dict(t) for t in svc.store.tasks(run_id)]
    arts: dict[str, list[dict[str, Any]]] = {}
    for a in svc.store.artifacts(run_id):
        arts.setdefault(a.task_id or "", []).append(
            {"id": a.id, "name": a.name, "type": a.schema_title, "uri": a.uri,
             "metadata": a.metadata_ or {}})
    return {"run": run, "tasks": tasks, "artifacts": arts}


def tree_order(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Depth first: each task right under its parent, siblings in the order they were created
    and loop iterations by index (not by when they finished), so lists read as the run went."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    for t in tasks:
        children.setdefault(t["parent_id"], []).append(t)
    out: list[dict[str, Any]] = []

    def walk(parent: str | None) -> None:
        kids = children.get(parent, [])
        if kids and all("index" in k["details"] for k in kids):
            kids = sorted(kids, key=lambda k: k["details"]["index"])
        for k in kids:
            out.append(k)
            walk(k["id"])

    walk(None)
    seen = {t["id"] for t in out}
    return out + [t for t in tasks if t["id"] not in seen]  # orphans, if any


def artifacts_in_order(detail: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(task, artifact) for every output artifact of a run (as `run_detail` returns it), in
    the run's order: tasks in tree order (iteration 0, 1, 2 whatever order they finished in),
    and a task's artifacts in the order its component declares its outputs."""
    spec = detail["run"].get("spec") or {}
    out = []
    for task in tree_order(detail["tasks"]):
        arts = detail["artifacts"].get(task["id"], [])
        declared = list(spec.get("components", {}).get(task["component"], {}).get(
            "outputDefinitions", {}).get("artifacts", {}))
        rank = {name: i for i, name in enumerate(declared)}
        for art in sorted(arts, key=lambda a: (rank.get(a["name"], len(rank)), a["name"])):
            out.append((task, art))
    return out


def run_states(svc: Services, run_id: str) -> tuple[str, list[tuple[str, str, str | None]]]:
    """Cheap poll for the live graph: the run's state and each task's (id, state, end)."""
    with svc.store.session() as s:
        state = s.scalar(select(Run.state).where(Run.id == run_id)) or "UNKNOWN"
        rows = s.execute(select(Task.id, Task.state, Task.finished_at)
                         .where(Task.run_id == run_id)).all()
    return state, [(i, st, str(f) if f else None) for i, st, f in rows]


def task_detail(svc: Services, task_id: str) -> dict[str, Any]:
    t = svc.store.get_task(task_id)
    if t is None:
        raise NotFound(f"no task {task_id}")
    out = _task_dict(t)
    out.update(inputs=t.inputs or {}, outputs=t.outputs or {}, run_id=t.run_id,
               cache_key=t.cache_key, log_path=t.log_path)
    with svc.store.session() as s:
        events = s.scalars(select(Event).where(Event.task_id == task_id).order_by(Event.id)).all()
        source = s.get(Task, t.cached_from) if t.cached_from else None
    out["events"] = [{"type": e.type, "reason": e.reason, "message": e.message,
                      "at": e.created_at} for e in events]
    out["cache_source"] = ({"task_id": source.id, "run_id": source.run_id, "path": source.path}
                           if source else None)
    return out


def read_log(svc: Services, task_id: str, offset: int = 0, limit: int = 256_000
             ) -> tuple[str, int, str]:
    """The task's log from byte `offset`, the next offset and the task's state: what the
    log view appends while the task runs (and when it may stop asking)."""
    t = svc.store.get_task(task_id)
    if t is None:
        return "", offset, "UNKNOWN"
    path = Path(t.log_path) if t.log_path else None
    if path is None or not path.is_file():
        return "", offset, t.state
    data, after = logs.read_range(path, offset, limit)
    return data.decode(errors="replace"), after, t.state


def compare(svc: Services, run_ids: list[str]) -> dict[str, Any]:
    """Parameters and metrics of runs side by side; `differs` marks rows that are not equal
    across the runs, which the compare view highlights."""
    runs = []
    for rid in run_ids:
        row = svc.store.get_run(rid)
        if row is None:
            raise NotFound(f"no run {rid}")
        runs.append(row)
    with svc.store.session() as s:
        metric_rows = s.execute(select(Metric.run_id, Metric.key, Metric.value, Metric.step,
                                       Task.name, Task.path).join(Task, Task.id == Metric.task_id,
                                                                  isouter=True)
                                .where(Metric.run_id.in_(run_ids))
                                .order_by(Metric.id)).all()
    metrics: dict[str, dict[str, float]] = {}
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for run_id, key, value, step, task_name, task_path in metric_rows:
        # Each loop iteration is its own row: train[0]/accuracy and train[1]/accuracy.
        label = run_metrics.metric_label(task_name, task_path, key)
        metrics.setdefault(label, {})[run_id] = value
        series.setdefault(label, {}).setdefault(run_id, []).append(
            (step if step is not None else len(series[label].get(run_id, [])), value))
    param_keys = sorted({k for r in runs for k in (r.arguments or {})})
    params = {k: {r.id: (r.arguments or {}).get(k) for r in runs} for k in param_keys}

    def differs(values: dict[str, Any]) -> bool:
        seen = [repr(values.get(r.id)) for r in runs]
        return len(set(seen)) > 1

    return {
        "runs": [{"id": r.id, "name": r.display_name, "state": r.state,
                  "pipeline": r.pipeline_name} for r in runs],
        "parameters": [{"key": k, "values": v, "differs": differs(v)} for k, v in params.items()],
        "metrics": [{"key": k, "values": metrics[k], "differs": differs(metrics[k])}
                    for k in sorted(metrics, key=run_metrics.natural_key)],
        "series": series,
    }
