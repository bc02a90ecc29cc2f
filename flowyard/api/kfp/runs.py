from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends

from flowyard.api.deps import services
from flowyard.services import runs
from flowyard.services.context import Services

router = APIRouter(tags=["RunService"])


@router.post("/runs", operation_id="RunService_CreateRun")
def create_run(body: dict[str, Any] = Body(...), experiment_id: str | None = None,
               svc: Services = Depends(services)) -> dict[str, Any]:
    return runs.create(svc, body, experiment_id)


@router.get("/runs", operation_id="RunService_ListRuns")
def list_runs(namespace: str | None = None, experiment_id: str | None = None,
              page_token: str | None = None, page_size: int | None = None,
              sort_by: str | None = None, filter: str | None = None,
              svc: Services = Depends(services)) -> dict[str, Any]:
    return runs.list_(svc, page_token=page_token, page_size=page_size, sort_by=sort_by,
                      filter=filter, experiment_id=experiment_id, namespace=namespace)


@router.get("/runs/{run_id}", operation_id="RunService_GetRun")
def get_run(run_id: str, experiment_id: str | None = None, svc: Services = Depends(services)
            ) -> dict[str, Any]:
    return runs.get(svc, run_id)


@router.delete("/runs/{run_id}", operation_id="RunService_DeleteRun")
def delete_run(run_id: str, experiment_id: str | None = None, svc: Services = Depends(services)
               ) -> dict[str, Any]:
    return runs.delete(svc, run_id)


@router.post("/runs/{run_id}:archive", operation_id="RunService_ArchiveRun")
def archive_run(run_id: str, experiment_id: str | None = None,
                svc: Services = Depends(services)) -> dict[str, Any]:
    return runs.set_archived(svc, run_id, True)


@router.post("/runs/{run_id}:unarchive", operation_id="RunService_UnarchiveRun")
def unarchive_run(run_id: str, experiment_id: str | None = None,
                  svc: Services = Depends(services)) -> dict[str, Any]:
    return runs.set_archived(svc, run_id, False)


@router.post("/runs/{run_id}:terminate", operation_id="RunService_TerminateRun")
def terminate_run(run_id: str, experiment_id: str | None = None,
                  svc: Services = Depends(services)) -> dict[str, Any]:
    return runs.terminate(svc, run_id)


@router.post("/runs/{run_id}:retry", operation_id="RunService_RetryRun")
def retry_run(run_id: str, experiment_id: str | None = None, svc: Services = Depends(services)
              ) -> dict[str, Any]:
    return runs.retry(svc, run_id)
