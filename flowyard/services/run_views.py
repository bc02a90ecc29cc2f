"""A stored run and its tasks in KFP's v2beta1 Run JSON (run_details.task_details)."""

from __future__ import annotations

from typing import Any

from flowyard.services.kfp_json import compact, ts
from flowyard.store.schema import Artifact, Run, Task
from flowyard.store.store import TERMINAL_RUN_STATES

# KFP's RuntimeState has no CACHED: Kubeflow reports a cache hit as SKIPPED.
_TASK_STATES = {"CACHED": "SKIPPED", "QUEUED": "PENDING"}
RUN_STATES = ("RUNTIME_STATE_UNSPECIFIED", "PENDING", "RUNNING", "SUCCEEDED", "SKIPPED", "FAILED",
              "CANCELING", "CANCELED", "PAUSED")


def run_state(row: Run) -> str:
    if row.cancel_requested and row.state not in TERMINAL_RUN_STATES:
        return "CANCELING"
    return row.state if row.state in RUN_STATES else "RUNTIME_STATE_UNSPECIFIED"


def _error(message: str | None) -> dict[str, Any] | None:
    return {"code": 2, "message": message, "details": []} if message else None


def _history(created: Any, started: Any, finished: Any, state: str) -> list[dict[str, Any]]:
    out = [{"update_time": ts(created), "state": "PENDING"}]
    if started is not None:
        out.append({"update_time": ts(started), "state": "RUNNING"})
    if finished is not None and state not in ("PENDING", "RUNNING"):
        out.append({"update_time": ts(finished), "state": state})
    return out


def _pod_name(run_id: str, task: Task) -> str:
    return f"{run_id[:8]}-{task.path.replace('/', '-').replace('.', '-')}"[:253]


def task_json(task: Task, children: list[Task], arts: list[Artifact]) -> dict[str, Any]:
    state = _TASK_STATES.get(task.state, task.state)
    if state not in RUN_STATES:
        state = "RUNTIME_STATE_UNSPECIFIED"
    outputs: dict[str, Any] = {}
    for a in arts:
        outputs.setdefault(a.name, {"artifact_ids": []})["artifact_ids"].append(a.id)
    pod = _pod_name(task.run_id, task)
    return compact({
        "run_id": task.run_id, "task_id": task.id, "display_name": task.name,
        "create_time": ts(task.created_at), "start_time": ts(task.started_at),
        "end_time": ts(task.finished_at), "state": state, "error": _error(task.error),
        "executor_detail": {"main_job": pod} if task.kind == "container" else None,
        "outputs": outputs or None, "parent_task_id": task.parent_id,
        "state_history": _history(task.created_at, task.started_at, task.finished_at, state),
        "pod_name": pod if task.kind == "container" else None,
        "child_tasks": [{"task_id": c.id, "pod_name": _pod_name(c.run_id, c)}
                        for c in children] or None,
    })


def run_json(row: Run, tasks: list[Task] | None = None, arts: list[Artifact] | None = None,
             full: bool = True) -> dict[str, Any]:
    """`full` adds what a list leaves out to stay fast: the inline spec and the task details."""
    state = run_state(row)
    out: dict[str, Any] = {
        "experiment_id": row.experiment_id, "run_id": row.id, "display_name": row.display_name,
        "storage_state": "ARCHIVED" if row.archived else "AVAILABLE",
        "description": row.description or None,
        "pipeline_version_id": row.pipeline_version_id,
        "runtime_config": compact({"parameters": row.arguments or {},
                                   "pipeline_root": row.pipeline_root or None}),
        "service_account": row.service_account or None,
        "created_at": ts(row.created_at), "scheduled_at": ts(row.scheduled_at or row.created_at),
        "finished_at": ts(row.finished_at), "state": state, "error": _error(row.error),
        "recurring_run_id": row.recurring_run_id,
        "state_history": _history(row.created_at, row.started_at, row.finished_at, state),
    }
    if row.pipeline_version_id:
        out["pipeline_version_reference"] = {"pipeline_id": row.pipeline_id,
                                             "pipeline_version_id": row.pipeline_version_id}
    if full:
        if not row.pipeline_version_id:
            out["pipeline_spec"] = ({"pipeline_spec": row.spec, "platform_spec": row.platform_spec}
                                    if row.platform_spec else row.spec)
        tasks = tasks or []
        by_parent: dict[str | None, list[Task]] = {}
        for t in tasks:
            by_parent.setdefault(t.parent_id, []).append(t)
        by_task: dict[str | None, list[Artifact]] = {}
        for a in arts or []:
            by_task.setdefault(a.task_id, []).append(a)
        out["run_details"] = {"task_details": [
            task_json(t, by_parent.get(t.id, []), by_task.get(t.id, [])) for t in tasks]}
    return compact(out)
