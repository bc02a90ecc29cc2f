"""The KFP v2beta1 REST API, as kfp.Client and the Kubeflow UI call it."""

from fastapi import APIRouter

from flowyard.api.kfp import experiments, healthz, pipelines, recurring, runs

router = APIRouter(prefix="/apis/v2beta1")
for module in (healthz, experiments, pipelines, runs, recurring):
    router.include_router(module.router)
