from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends

from flowyard.api.deps import services
from flowyard.services import recurring
from flowyard.services.context import Services

router = APIRouter(tags=["RecurringRunService"])


@router.post("/recurringruns", operation_id="RecurringRunService_CreateRecurringRun")
def create_recurring_run(body: dict[str, Any] = Body(...), svc: Services = Depends(services)
                         ) -> dict[str, Any]:
    return recurring.create(svc, body)


@router.get("/recurringruns", operation_id="RecurringRunService_ListRecurringRuns")
def list_recurring_runs(page_token: str | None = None, page_size: int | None = None,
                        sort_by: str | None = None, namespace: str | None = None,
                        filter: str | None = None, experiment_id: str | None = None,
                        svc: Services = Depends(services)) -> dict[str, Any]:
    return recurring.list_(svc, page_token=page_token, page_size=page_size, sort_by=sort_by,
                           filter=filter, experiment_id=experiment_id, namespace=namespace)


@router.get("/recurringruns/{recurring_run_id}",
            operation_id="RecurringRunService_GetRecurringRun")
def get_recurring_run(recurring_run_id: str, svc: Services = Depends(services)
                      ) -> dict[str, Any]:
    return recurring.get(svc, recurring_run_id)


@router.delete("/recurringruns/{recurring_run_id}",
               operation_id="RecurringRunService_DeleteRecurringRun")
def delete_recurring_run(recurring_run_id: str, propagation_policy: str | None = None,
                         svc: Services = Depends(services)) -> dict[str, Any]:
    return recurring.delete(svc, recurring_run_id)


@router.post("/recurringruns/{recurring_run_id}:enable",
             operation_id="RecurringRunService_EnableRecurringRun")
def enable_recurring_run(recurring_run_id: str, svc: Services = Depends(services)
                         ) -> dict[str, Any]:
    return recurring.set_enabled(svc, recurring_run_id, True)


@router.post("/recurringruns/{recurring_run_id}:disable",
             operation_id="RecurringRunService_DisableRecurringRun")
def disable_recurring_run(recurring_run_id: str, svc: Services = Depends(services)
                          ) -> dict[str, Any]:
    return recurring.set_enabled(svc, recurring_run_id, False)
