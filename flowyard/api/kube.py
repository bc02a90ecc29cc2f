"""Kubernetes discovery and OpenAPI: /version, /api, /api/v1, /apis, /apis/{group},
/apis/{group}/{version}, /openapi/v2, /openapi/v3[/{api/v1 | apis/G/V}]. What kubectl and the
kubernetes client read before anything else."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from flowyard.api.deps import services
from flowyard.kube import discovery, openapi
from flowyard.services.context import Services
from flowyard.services.errors import NotFound
from flowyard.services.served_kinds import served_kinds

router = APIRouter(tags=["Kubernetes discovery"], include_in_schema=False)


async def _kinds(svc: Services) -> list[Any]:
    return await asyncio.to_thread(served_kinds, svc)


def _missing(path: str) -> NotFound:
    return NotFound(f"the server could not find the requested resource ({path})")


@router.get("/version")
async def version() -> dict[str, str]:
    return discovery.SERVER_VERSION


def _aggregated(doc: dict[str, Any]) -> JSONResponse:
    return JSONResponse(doc, media_type=discovery.AGGREGATED, headers={"Vary": "Accept"})


@router.get("/api")
async def api(request: Request, svc: Services = Depends(services)) -> Any:
    if discovery.wants_aggregated(request.headers.get("accept", "")):
        return _aggregated(discovery.aggregated(await _kinds(svc), core=True))
    host = request.headers.get("host") or "127.0.0.1"
    return discovery.api_versions(host)


@router.get("/apis")
async def apis(request: Request, svc: Services = Depends(services)) -> Any:
    if discovery.wants_aggregated(request.headers.get("accept", "")):
        return _aggregated(discovery.aggregated(await _kinds(svc), core=False))
    return discovery.group_list(await _kinds(svc))


@router.get("/api/{version}")
async def core_resources(version: str, svc: Services = Depends(services)) -> dict[str, Any]:
    out = discovery.resource_list(await _kinds(svc), "", version)
    if out is None:
        raise _missing(f"/api/{version}")
    return out


@router.get("/apis/{group}")
async def api_group(group: str, svc: Services = Depends(services)) -> dict[str, Any]:
    out = discovery.group(await _kinds(svc), group)
    if out is None:
        raise _missing(f"/apis/{group}")
    return out


@router.get("/apis/{group}/{version}")
async def group_resources(group: str, version: str, svc: Services = Depends(services)
                          ) -> dict[str, Any]:
    out = discovery.resource_list(await _kinds(svc), group, version)
    if out is None:
        raise _missing(f"/apis/{group}/{version}")
    return out


@router.get("/openapi/v2")
async def openapi_v2(svc: Services = Depends(services)) -> JSONResponse:
    kinds = await _kinds(svc)
    return JSONResponse(await asyncio.to_thread(openapi.v2, kinds))


@router.get("/openapi/v3")
async def openapi_v3(svc: Services = Depends(services)) -> dict[str, Any]:
    return openapi.v3_index(await _kinds(svc))


@router.get("/openapi/v3/{gv_path:path}")
async def openapi_v3_group(gv_path: str, svc: Services = Depends(services)) -> JSONResponse:
    kinds = await _kinds(svc)
    doc = await asyncio.to_thread(openapi.v3_group, kinds, gv_path.strip("/"))
    if doc is None:
        raise _missing(f"/openapi/v3/{gv_path}")
    return JSONResponse(doc)
