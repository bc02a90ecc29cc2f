from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends

from flowyard.api.deps import services
from flowyard.services import experiments
from flowyard.services.context import Services

router = APIRouter(tags=["ExperimentService"])


@router.post("/experiments", operation_id="ExperimentService_CreateExperiment")
def create_experiment(body: dict[str, Any] = Body(...), svc: Services = Depends(services)
                      ) -> dict[str, Any]:
    return experiments.create(svc, body)


@router.get("/experiments", operation_id="ExperimentService_ListExperiments")
def list_experiments(page_token: str | None = None, page_size: int | None = None,
                     sort_by: str | None = None, filter: str | None = None,
                     namespace: str | None = None, svc: Services = Depends(services)
                     ) -> dict[str, Any]:
    return experiments.list_(svc, page_token=page_token, page_size=page_size, sort_by=sort_by,
                             filter=filter, namespace=namespace)


@router.get("/experiments/{experiment_id}", operation_id="ExperimentService_GetExperiment")
def get_experiment(experiment_id: str, svc: Services = Depends(services)) -> dict[str, Any]:
    return experiments.get(svc, experiment_id)


@router.delete("/experiments/{experiment_id}", operation_id="ExperimentService_DeleteExperiment")
def delete_experiment(experiment_id: str, svc: Services = Depends(services)) -> dict[str, Any]:
    return experiments.delete(svc, experiment_id)


@router.post("/experiments/{experiment_id}:archive",
             operation_id="ExperimentService_ArchiveExperiment")
def archive_experiment(experiment_id: str, svc: Services = Depends(services)) -> dict[str, Any]:
    return experiments.archive(svc, experiment_id)


@router.post("/experiments/{experiment_id}:unarchive",
             operation_id="ExperimentService_UnarchiveExperiment")
def unarchive_experiment(experiment_id: str, svc: Services = Depends(services)
                         ) -> dict[str, Any]:
    return experiments.unarchive(svc, experiment_id)
