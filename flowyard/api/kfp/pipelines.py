from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, File, UploadFile

from flowyard.api.deps import services
from flowyard.services import pipelines
from flowyard.services.context import Services

router = APIRouter(tags=["PipelineService"])


@router.post("/pipelines/upload", operation_id="UploadPipeline")
async def upload_pipeline(uploadfile: UploadFile = File(...), name: str | None = None,
                          display_name: str | None = None, description: str | None = None,
                          namespace: str | None = None, tags: str | None = None,
                          code_source_url: str | None = None,
                          svc: Services = Depends(services)) -> dict[str, Any]:
    import asyncio

    data = await uploadfile.read()
    params = {"name": name, "display_name": display_name, "description": description,
              "namespace": namespace, "tags": tags, "code_source_url": code_source_url}
    return await asyncio.to_thread(pipelines.upload, svc, data, uploadfile.filename or "",
                                   params)


@router.post("/pipelines/upload_version", operation_id="UploadPipelineVersion")
async def upload_pipeline_version(uploadfile: UploadFile = File(...), name: str | None = None,
                                  display_name: str | None = None,
                                  pipelineid: str | None = None,
                                  description: str | None = None, tags: str | None = None,
                                  code_source_url: str | None = None,
                                  svc: Services = Depends(services)) -> dict[str, Any]:
    import asyncio

    data = await uploadfile.read()
    params = {"name": name, "display_name": display_name, "pipelineid": pipelineid,
              "description": description, "tags": tags, "code_source_url": code_source_url}
    return await asyncio.to_thread(pipelines.upload_version, svc, data,
                                   uploadfile.filename or "", params)


@router.post("/pipelines", operation_id="PipelineService_CreatePipeline")
def create_pipeline(body: dict[str, Any] = Body(...), svc: Services = Depends(services)
                    ) -> dict[str, Any]:
    return pipelines.create(svc, body)


@router.post("/pipelines/create", operation_id="PipelineService_CreatePipelineAndVersion")
def create_pipeline_and_version(body: dict[str, Any] = Body(...),
                                svc: Services = Depends(services)) -> dict[str, Any]:
    return pipelines.create_with_version(svc, body)


@router.get("/pipelines", operation_id="PipelineService_ListPipelines")
def list_pipelines(namespace: str | None = None, page_token: str | None = None,
                   page_size: int | None = None, sort_by: str | None = None,
                   filter: str | None = None, svc: Services = Depends(services)
                   ) -> dict[str, Any]:
    return pipelines.list_(svc, page_token=page_token, page_size=page_size, sort_by=sort_by,
                           filter=filter, namespace=namespace)


@router.get("/pipelines/names/{name}", operation_id="PipelineService_GetPipelineByName")
def get_pipeline_by_name(name: str, namespace: str | None = None,
                         svc: Services = Depends(services)) -> dict[str, Any]:
    return pipelines.get_by_name(svc, name, namespace or "")


@router.get("/pipelines/{pipeline_id}", operation_id="PipelineService_GetPipeline")
def get_pipeline(pipeline_id: str, svc: Services = Depends(services)) -> dict[str, Any]:
    return pipelines.get(svc, pipeline_id)


@router.patch("/pipelines/{pipeline_id}", operation_id="PipelineService_UpdatePipeline")
def update_pipeline(pipeline_id: str, body: dict[str, Any] = Body(...),
                    svc: Services = Depends(services)) -> dict[str, Any]:
    return pipelines.update(svc, pipeline_id, body)


@router.delete("/pipelines/{pipeline_id}", operation_id="PipelineService_DeletePipeline")
def delete_pipeline(pipeline_id: str, cascade: bool = False, svc: Services = Depends(services)
                    ) -> dict[str, Any]:
    return pipelines.delete(svc, pipeline_id, cascade)


@router.get("/pipelines/{pipeline_id}/versions",
            operation_id="PipelineService_ListPipelineVersions")
def list_pipeline_versions(pipeline_id: str, page_token: str | None = None,
                           page_size: int | None = None, sort_by: str | None = None,
                           filter: str | None = None, svc: Services = Depends(services)
                           ) -> dict[str, Any]:
    return pipelines.list_versions(svc, pipeline_id, page_token=page_token, page_size=page_size,
                                   sort_by=sort_by, filter=filter)


@router.post("/pipelines/{pipeline_id}/versions",
             operation_id="PipelineService_CreatePipelineVersion")
def create_pipeline_version(pipeline_id: str, body: dict[str, Any] = Body(...),
                            svc: Services = Depends(services)) -> dict[str, Any]:
    return pipelines.create_version(svc, pipeline_id, body)


@router.get("/pipelines/{pipeline_id}/versions/{pipeline_version_id}",
            operation_id="PipelineService_GetPipelineVersion")
def get_pipeline_version(pipeline_id: str, pipeline_version_id: str,
                         svc: Services = Depends(services)) -> dict[str, Any]:
    return pipelines.get_version(svc, pipeline_id, pipeline_version_id)


@router.delete("/pipelines/{pipeline_id}/versions/{pipeline_version_id}",
               operation_id="PipelineService_DeletePipelineVersion")
def delete_pipeline_version(pipeline_id: str, pipeline_version_id: str,
                            svc: Services = Depends(services)) -> dict[str, Any]:
    return pipelines.delete_version(svc, pipeline_id, pipeline_version_id)
