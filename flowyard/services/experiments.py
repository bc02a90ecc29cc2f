"""KFP ExperimentService: create, get, list, archive, unarchive, delete."""

from __future__ import annotations

from typing import Any

from flowyard.services import listing
from flowyard.services.context import Services
from flowyard.services.errors import AlreadyExists, FailedPrecondition, NotFound
from flowyard.services.kfp_json import compact, display_name, obj, text, ts
from flowyard.store import errors as store_errors
from flowyard.store.experiments import ExperimentStore
from flowyard.store.query import list_page
from flowyard.store.schema import Experiment

DEFAULT = "Default"
MAX_NAME_BYTES = 128  # KFP's limit on Experiment.Name

FIELDS = {
    "experiment_id": listing.Field("id"), "id": listing.Field("id"),
    "display_name": listing.Field("name"), "name": listing.Field("name"),
    "description": listing.Field("description"),
    "created_at": listing.Field("created_at", "time"),
    "storage_state": listing.Field("archived", "storage_state"),
    "namespace": listing.Field("namespace"),
}
COLUMNS = {"id": Experiment.id, "name": Experiment.name, "description": Experiment.description,
           "created_at": Experiment.created_at, "archived": Experiment.archived,
           "namespace": Experiment.namespace}


def to_json(row: Experiment, last_run: Any = None) -> dict[str, Any]:
    return compact({
        "experiment_id": row.id, "display_name": row.name, "description": row.description,
        "created_at": ts(row.created_at), "namespace": row.namespace,
        "storage_state": "ARCHIVED" if row.archived else "AVAILABLE",
        "last_run_created_at": ts(last_run),
    })


def _get_row(svc: Services, experiment_id: str) -> Experiment:
    try:
        return ExperimentStore(svc.store).get(experiment_id)
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None


def create(svc: Services, body: Any) -> dict[str, Any]:
    body = obj(body, "experiment")
    name = display_name(body.get("display_name"), "display_name", MAX_NAME_BYTES,
                        "an experiment")
    try:
        row = ExperimentStore(svc.store).create(
            name, text(body.get("description"), "description"),
            text(body.get("namespace"), "namespace"))
    except store_errors.Conflict as exc:
        raise AlreadyExists(str(exc)) from None
    return to_json(row)


def get(svc: Services, experiment_id: str) -> dict[str, Any]:
    row = _get_row(svc, experiment_id)
    last = ExperimentStore(svc.store).last_run_times([row.id]).get(row.id)
    return to_json(row, last)


def resolve(svc: Services, experiment_id: str | None) -> Experiment:
    """The experiment a run goes into: the named one, or "Default" (created on first use)."""
    if experiment_id:
        return _get_row(svc, experiment_id)
    row = svc.store.experiment_by_name(DEFAULT)
    assert row is not None
    return row


def list_(svc: Services, *, page_token: str | None = None, page_size: Any = None,
          sort_by: str | None = None, filter: str | None = None,
          namespace: str | None = None) -> dict[str, Any]:
    p = listing.page(FIELDS, filter=filter, sort_by=sort_by, page_token=page_token,
                     page_size=page_size)
    rows, total = list_page(svc.store, Experiment, COLUMNS, p)
    last = ExperimentStore(svc.store).last_run_times([r.id for r in rows])
    return compact({"experiments": [to_json(r, last.get(r.id)) for r in rows] or None,
                    "total_size": total, "next_page_token": listing.token(p, total, rows, COLUMNS)})


def archive(svc: Services, experiment_id: str) -> dict[str, Any]:
    _get_row(svc, experiment_id)
    ExperimentStore(svc.store).set_archived(experiment_id, True)
    return {}


def unarchive(svc: Services, experiment_id: str) -> dict[str, Any]:
    _get_row(svc, experiment_id)
    ExperimentStore(svc.store).set_archived(experiment_id, False)
    return {}


def delete(svc: Services, experiment_id: str) -> dict[str, Any]:
    try:
        ExperimentStore(svc.store).delete(experiment_id)
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None
    except store_errors.Conflict as exc:
        raise FailedPrecondition(str(exc)) from None
    return {}
