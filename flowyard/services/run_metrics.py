"""Runs' metrics as the dashboard shows them: one value per (task, loop iteration, key), labelled
so ParallelFor iterations stay apart (`train[1]/accuracy`), and the few columns a list of runs
shows. Every query is bounded by the runs asked about (an index on metrics.run_id), never by
how many runs the store holds."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from flowyard.services.context import Services
from flowyard.store.schema import Metric, Run, Task

# A list shows at most this many metric columns (Kubeflow's runs list shows a handful too);
# the compare view shows them all.
MAX_COLUMNS = 4
# A run whose components logged thousands of keys still costs a bounded read per page.
MAX_PER_RUN = 50


def iterations(path: str) -> list[int]:
    """The loop iteration indices in a task's path: `for-loop-2/1/train` -> [1]."""
    return [int(part) for part in path.split("/") if part.isdigit()]


def task_label(name: str, path: str) -> str:
    """A task's name with its iteration(s): `train`, `train[1]`, `train[1,0]` (nested loops)."""
    idx = iterations(path)
    return f"{name}[{','.join(map(str, idx))}]" if idx else name


def natural_key(label: str) -> list[tuple[int, Any]]:
    """Sort `train[2]` before `train[10]`."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", label) if p]


def metric_label(task_name: str | None, task_path: str | None, key: str) -> str:
    if not task_name:
        return key
    return f"{task_label(task_name, task_path or '')}/{key}"


def latest(svc: Services, run_ids: Iterable[str]) -> dict[str, dict[str, float]]:
    """{run id: {label: value}} with each label's last logged value (Kubeflow's runs list
    shows a run's final metrics). One grouped query over the given runs' metric rows."""
    ids = list(dict.fromkeys(run_ids))
    if not ids:
        return {}
    last = (select(func.max(Metric.id)).where(Metric.run_id.in_(ids))
            .group_by(Metric.run_id, Metric.task_id, Metric.key))
    with svc.store.session() as s:
        rows = s.execute(select(Metric.run_id, Metric.key, Metric.value, Task.name, Task.path)
                         .join(Task, Task.id == Metric.task_id, isouter=True)
                         .where(Metric.id.in_(last))
                         .order_by(Metric.run_id, Metric.id)
                         .limit(len(ids) * MAX_PER_RUN)).all()
    out: dict[str, dict[str, float]] = {}
    for run_id, key, value, name, path in rows:
        per_run = out.setdefault(run_id, {})
        if len(per_run) < MAX_PER_RUN:
            per_run[metric_label(name, path, key)] = value
    return out


def columns(values: dict[str, dict[str, float]], limit: int = MAX_COLUMNS) -> list[str]:
    """The labels a list shows as columns: those most of its runs have, then by name."""
    counts: dict[str, int] = {}
    for per_run in values.values():
        for label in per_run:
            counts[label] = counts.get(label, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], natural_key(k)))[:limit]


def latest_run_per_experiment(svc: Services, experiment_ids: Iterable[str]) -> dict[str, str]:
    """{experiment id: id of its newest SUCCEEDED run} (the run whose metrics the
    experiments list shows); one grouped query on (experiment_id, created_at)."""
    ids = list(experiment_ids)
    if not ids:
        return {}
    newest = (select(Run.experiment_id, func.max(Run.created_at).label("at"))
              .where(Run.experiment_id.in_(ids), Run.state == "SUCCEEDED",
                     Run.archived.is_(False))
              .group_by(Run.experiment_id).subquery())
    with svc.store.session() as s:
        rows = s.execute(select(Run.experiment_id, Run.id).join(
            newest, (Run.experiment_id == newest.c.experiment_id)
            & (Run.created_at == newest.c.at)).where(Run.state == "SUCCEEDED")).all()
    return {exp: run for exp, run in rows}
