"""KFP RecurringRunService: schedules that start runs (cron or periodic, start/end time,
max concurrency, catch-up or not, enable/disable)."""

from __future__ import annotations

from typing import Any

from flowyard.services import experiments, listing
from flowyard.services.context import Services
from flowyard.services.errors import FailedPrecondition, InvalidArgument, NotFound
from flowyard.services.kfp_json import compact, int64, obj, parse_int, parse_ts, text, ts
from flowyard.services.runs import resolve_pipeline
from flowyard.services.schedule import normalise_cron
from flowyard.services.submission import run_fields
from flowyard.store import errors as store_errors
from flowyard.store.query import list_page
from flowyard.store.recurring import RecurringStore
from flowyard.store.schema import RecurringRun

FIELDS = {
    "recurring_run_id": listing.Field("id"), "id": listing.Field("id"),
    "display_name": listing.Field("name"), "name": listing.Field("name"),
    "description": listing.Field("description"),
    "created_at": listing.Field("created_at", "time"),
    "updated_at": listing.Field("updated_at", "time"),
    "experiment_id": listing.Field("experiment_id"),
    "pipeline_version_id": listing.Field("pipeline_version_id"),
}
COLUMNS = {"id": RecurringRun.id, "name": RecurringRun.display_name,
           "description": RecurringRun.description, "created_at": RecurringRun.created_at,
           "updated_at": RecurringRun.updated_at, "experiment_id": RecurringRun.experiment_id,
           "pipeline_version_id": RecurringRun.pipeline_version_id}
MAX_CONCURRENCY = 100


def to_json(row: RecurringRun) -> dict[str, Any]:
    window = {"start_time": ts(row.start_time), "end_time": ts(row.end_time)}
    trigger = ({"cron_schedule": compact({**window, "cron": row.cron})} if row.cron else
               {"periodic_schedule": compact({**window,
                                               "interval_second": int64(row.interval_second)})})
    out: dict[str, Any] = {
        "recurring_run_id": row.id, "display_name": row.display_name,
        "description": row.description or None,
        "pipeline_version_id": row.pipeline_version_id,
        "runtime_config": compact({"parameters": row.parameters or {},
                                   "pipeline_root": row.pipeline_root or None}),
        "service_account": row.service_account or None,
        "max_concurrency": int64(row.max_concurrency), "trigger": trigger,
        "mode": "ENABLE" if row.enabled else "DISABLE",
        "created_at": ts(row.created_at), "updated_at": ts(row.updated_at),
        "status": "ENABLED" if row.enabled else "DISABLED", "no_catchup": row.no_catchup,
        "namespace": row.namespace, "experiment_id": row.experiment_id,
    }
    if row.inline_spec:
        out["pipeline_spec"] = ({"pipeline_spec": row.spec, "platform_spec": row.platform_spec}
                                if row.platform_spec else row.spec)
    else:
        out["pipeline_version_reference"] = {"pipeline_id": row.pipeline_id,
                                             "pipeline_version_id": row.pipeline_version_id}
    return compact(out)


def _trigger(body: dict[str, Any]) -> dict[str, Any]:
    trig = obj(body.get("trigger"), "trigger")
    cron = obj(trig.get("cron_schedule"), "trigger.cron_schedule")
    periodic = obj(trig.get("periodic_schedule"), "trigger.periodic_schedule")
    if bool(cron.get("cron")) == bool(periodic.get("interval_second")):
        raise InvalidArgument("trigger: give exactly one of cron_schedule.cron or "
                              "periodic_schedule.interval_second")
    window = cron or periodic
    where = "trigger.cron_schedule" if cron else "trigger.periodic_schedule"
    start = parse_ts(window.get("start_time"), f"{where}.start_time")
    end = parse_ts(window.get("end_time"), f"{where}.end_time")
    if start and end and end <= start:
        raise InvalidArgument(f"{where}.end_time: must be after start_time")
    if cron:
        return dict(cron=normalise_cron(text(cron["cron"], f"{where}.cron")), interval_second=0,
                    start_time=start, end_time=end)
    interval = parse_int(periodic["interval_second"], f"{where}.interval_second", 1)
    return dict(cron="", interval_second=interval, start_time=start, end_time=end)


def create(svc: Services, body: Any) -> dict[str, Any]:
    body = obj(body, "recurring_run")
    name = text(body.get("display_name"), "display_name").strip()
    if not name:
        raise InvalidArgument("display_name: a recurring run needs a name")
    exp = experiments.resolve(svc, text(body.get("experiment_id"), "experiment_id"))
    doc, ref = resolve_pipeline(svc, body)
    runtime = obj(body.get("runtime_config"), "runtime_config")
    params = obj(runtime.get("parameters"), "runtime_config.parameters")
    run_fields(doc, params, experiment_id=exp.id, display_name=name)  # checks the parameters
    mode = body.get("mode") or "ENABLE"
    if mode not in ("ENABLE", "DISABLE", "MODE_UNSPECIFIED"):
        raise InvalidArgument(f"mode: expected ENABLE or DISABLE, got {mode!r}")
    conc = parse_int(body.get("max_concurrency") or 1, "max_concurrency", 1)
    if conc > MAX_CONCURRENCY:
        raise InvalidArgument(f"max_concurrency: at most {MAX_CONCURRENCY}")
    no_catchup = body.get("no_catchup") or False
    if not isinstance(no_catchup, bool):
        raise InvalidArgument("no_catchup: expected true or false")
    row = RecurringStore(svc.store).create(
        display_name=name[:255], description=text(body.get("description"), "description"),
        namespace=text(body.get("namespace"), "namespace"), experiment_id=exp.id,
        pipeline_id=ref.get("pipeline_id"), pipeline_version_id=ref.get("pipeline_version_id"),
        spec=doc.spec, platform_spec=doc.platform_spec, inline_spec=not ref, parameters=params,
        pipeline_root=text(runtime.get("pipeline_root"), "runtime_config.pipeline_root"),
        service_account=text(body.get("service_account"), "service_account"),
        max_concurrency=conc, no_catchup=no_catchup, enabled=mode != "DISABLE",
        **_trigger(body))
    return to_json(row)


def _row(svc: Services, rr_id: str) -> RecurringRun:
    try:
        return RecurringStore(svc.store).get(rr_id)
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None


def get(svc: Services, rr_id: str) -> dict[str, Any]:
    return to_json(_row(svc, rr_id))


def list_(svc: Services, *, page_token: str | None = None, page_size: Any = None,
          sort_by: str | None = None, filter: str | None = None,
          experiment_id: str | None = None, namespace: str | None = None) -> dict[str, Any]:
    p = listing.page(FIELDS, filter=filter, sort_by=sort_by, page_token=page_token,
                     page_size=page_size)
    where = [RecurringRun.experiment_id == experiment_id] if experiment_id else []
    rows, total = list_page(svc.store, RecurringRun, COLUMNS, p, where)
    # KFP spells this one list key in camelCase (its proto has a json_name).
    return compact({"recurringRuns": [to_json(r) for r in rows] or None, "total_size": total,
                    "next_page_token": listing.token(p, total, rows, COLUMNS)})


def set_enabled(svc: Services, rr_id: str, enabled: bool) -> dict[str, Any]:
    row = _row(svc, rr_id)
    if enabled and row.experiment_id:
        exp = svc.store.get_experiment(row.experiment_id)
        if exp is not None and exp.archived:
            raise FailedPrecondition(f"experiment {exp.id} is archived: unarchive it first")
    RecurringStore(svc.store).set_enabled(rr_id, enabled)
    return {}


def delete(svc: Services, rr_id: str) -> dict[str, Any]:
    _row(svc, rr_id)
    RecurringStore(svc.store).delete(rr_id)
    return {}
