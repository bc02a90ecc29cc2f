"""KFP RunService: create (inline spec or pipeline version), get, list, terminate, retry,
archive, unarchive, delete."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from sqlalchemy import update

from flowyard.pipelines.errors import PipelineError
from flowyard.services import experiments, listing, pipelines
from flowyard.services.context import Services
from flowyard.services.errors import FailedPrecondition, InvalidArgument, NotFound
from flowyard.services.kfp_json import compact, obj, text
from flowyard.services.run_views import run_json
from flowyard.services.submission import load_spec, run_fields
from flowyard.store.query import list_page
from flowyard.store.schema import Run
from flowyard.store.store import TERMINAL_RUN_STATES, now

FIELDS = {
    "run_id": listing.Field("id"), "id": listing.Field("id"),
    "display_name": listing.Field("name"), "name": listing.Field("name"),
    "description": listing.Field("description"), "state": listing.Field("state"),
    "created_at": listing.Field("created_at", "time"),
    "finished_at": listing.Field("finished_at", "time"),
    "scheduled_at": listing.Field("scheduled_at", "time"),
    "experiment_id": listing.Field("experiment_id"),
    "storage_state": listing.Field("archived", "storage_state"),
    "pipeline_version_id": listing.Field("pipeline_version_id"),
    "recurring_run_id": listing.Field("recurring_run_id"),
}
COLUMNS = {"id": Run.id, "name": Run.display_name, "description": Run.description,
           "state": Run.state, "created_at": Run.created_at, "finished_at": Run.finished_at,
           "scheduled_at": Run.scheduled_at, "experiment_id": Run.experiment_id,
           "archived": Run.archived, "pipeline_version_id": Run.pipeline_version_id,
           "recurring_run_id": Run.recurring_run_id}
# A list page reads neither the pipeline spec nor the outputs: 20 runs stay one small query.
_LIST_COLUMNS = [Run.id, Run.display_name, Run.description, Run.state, Run.created_at,
                 Run.started_at, Run.finished_at, Run.scheduled_at, Run.experiment_id,
                 Run.archived, Run.pipeline_id, Run.pipeline_version_id, Run.recurring_run_id,
                 Run.arguments, Run.pipeline_root, Run.service_account, Run.error,
                 Run.cancel_requested]


def resolve_pipeline(svc: Services, body: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The pipeline a run or recurring run names: inline `pipeline_spec`, or a version by
    `pipeline_version_reference` (a pipeline alone means its newest version)."""
    spec = body.get("pipeline_spec")
    ref = obj(body.get("pipeline_version_reference"), "pipeline_version_reference")
    version_id = text(ref.get("pipeline_version_id") or body.get("pipeline_version_id"),
                      "pipeline_version_reference.pipeline_version_id")
    pipeline_id = text(ref.get("pipeline_id"), "pipeline_version_reference.pipeline_id")
    if spec and (version_id or pipeline_id):
        raise InvalidArgument("give either pipeline_spec or pipeline_version_reference, not both")
    if spec:
        return load_spec(spec), {}
    if not (version_id or pipeline_id):
        raise InvalidArgument("a run needs a pipeline: pipeline_spec (the compiled IR) or "
                              "pipeline_version_reference {pipeline_id, pipeline_version_id}")
    ver = pipelines.version_row(svc, pipeline_id, version_id)
    doc = load_spec(ver.spec, ver.platform_spec, "pipeline version")
    return doc, {"pipeline_id": ver.pipeline_id, "pipeline_version_id": ver.id}


def create(svc: Services, body: Any, experiment_id: str | None = None) -> dict[str, Any]:
    body = obj(body, "run")
    exp = experiments.resolve(svc, text(body.get("experiment_id"), "experiment_id")
                              or experiment_id)
    if exp.archived:
        raise FailedPrecondition(f"experiment {exp.id} is archived: unarchive it to run in it")
    doc, ref = resolve_pipeline(svc, body)
    runtime = obj(body.get("runtime_config"), "runtime_config")
    params = obj(runtime.get("parameters"), "runtime_config.parameters")
    fields = run_fields(
        doc, params, experiment_id=exp.id,
        display_name=text(body.get("display_name"), "display_name"),
        description=text(body.get("description"), "description"),
        pipeline_root=text(runtime.get("pipeline_root"), "runtime_config.pipeline_root"),
        service_account=text(body.get("service_account"), "service_account"), **ref)
    row = svc.store.create_run(**fields)
    svc.launcher.start(row.id)
    return run_json(row, [], [])


def _row(svc: Services, run_id: str) -> Run:
    row = svc.store.get_run(run_id)
    if row is None:
        raise NotFound(f"no run {run_id}")
    return row


def get(svc: Services, run_id: str) -> dict[str, Any]:
    row = _row(svc, run_id)
    return run_json(row, svc.store.tasks(run_id), svc.store.artifacts(run_id))


def list_(svc: Services, *, page_token: str | None = None, page_size: Any = None,
          sort_by: str | None = None, filter: str | None = None,
          experiment_id: str | None = None, namespace: str | None = None) -> dict[str, Any]:
    p = listing.page(FIELDS, filter=filter, sort_by=sort_by, page_token=page_token,
                     page_size=page_size)
    where = [Run.experiment_id == experiment_id] if experiment_id else []
    rows, total = list_page(svc.store, Run, COLUMNS, p, where, load=_LIST_COLUMNS)
    return compact({"runs": [run_json(r, full=False) for r in rows] or None,
                    "total_size": total, "next_page_token": listing.token(p, total, rows, COLUMNS)})


def driver_alive(driver: str | None) -> bool:
    """Whether the process named "host:pid" still runs (here; other hosts are trusted)."""
    if not driver:
        return False
    host, _, pid = driver.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        pid_n = int(pid)
    except ValueError:
        return False
    if pid_n == os.getpid():
        return True
    try:
        # A zombie (killed, not yet reaped) drives nothing any more.
        state = Path(f"/proc/{pid_n}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def terminate(svc: Services, run_id: str) -> dict[str, Any]:
    row = _row(svc, run_id)
    if row.state in TERMINAL_RUN_STATES:
        return {}
    svc.store.request_cancel(run_id)
    if not svc.launcher.owns(run_id) and not driver_alive(row.driver):
        # Nobody drives it (never started, or its driver died): end it here.
        with svc.store.session() as s, s.begin():
            s.execute(update(Run).where(Run.id == run_id, Run.state.not_in(
                list(TERMINAL_RUN_STATES))).values(state="CANCELED", finished_at=now(),
                                                   error="the run was canceled", driver=None))
    return {}


def retry(svc: Services, run_id: str) -> dict[str, Any]:
    from flowyard.pipelines.runner import reopen

    row = _row(svc, run_id)
    try:
        reopen(run_id, svc.store)
    except PipelineError as exc:
        raise FailedPrecondition(str(exc)) from None
    svc.launcher.start(row.id, resume=True)
    return {}


def set_archived(svc: Services, run_id: str, archived: bool) -> dict[str, Any]:
    _row(svc, run_id)
    svc.store.update_run(run_id, archived=archived)
    return {}


def delete(svc: Services, run_id: str) -> dict[str, Any]:
    row = _row(svc, run_id)
    if row.state not in TERMINAL_RUN_STATES:
        raise FailedPrecondition(f"run {run_id} is {row.state}: terminate it before deleting it")
    svc.store.delete_run(run_id)
    return {}
