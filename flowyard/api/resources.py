"""The Kubernetes-shaped resources API:
/apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}[/status]] (and /api/v1/... for the
core group; cluster-scoped kinds without the namespaces/{ns} part)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from flowyard.api.deps import services
from flowyard.services import resources as res
from flowyard.services.context import Services
from flowyard.services.errors import InvalidArgument

router = APIRouter(tags=["Resources"])
_PATCH_BODY = {"requestBody": {"required": True, "content": {
    "application/merge-patch+json": {"schema": {"type": "object"}},
    "application/strategic-merge-patch+json": {"schema": {"type": "object"}},
    "application/json-patch+json": {"schema": {"type": "array", "items": {"type": "object"}}},
    "application/json": {"schema": {"type": "object"}}}}}
MAX_WATCH_S = 3600.0  # a client wanting more re-watches from the last resourceVersion


def _max_watch_s() -> float:
    import os

    return float(os.environ.get("FLOWYARD_MAX_WATCH_SECONDS") or MAX_WATCH_S)


def _ref(group: str, version: str, plural: str, namespace: str = "", name: str = "") -> res.Ref:
    # Custom resource groups always hold a dot; this also keeps /apis/v2beta1/... for KFP.
    return res.checked_ref(group, version, plural, namespace, name)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("the request body is not JSON") from None


def _stream(events: Iterator[dict[str, Any]]) -> StreamingResponse:
    def lines() -> Iterator[bytes]:
        for event in events:
            yield (json.dumps(event) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/json")


def _list(svc: Services, ref: res.Ref, label_selector: str | None, watch: bool,
          resource_version: str | None, timeout_seconds: int | None,
          all_namespaces: bool = False) -> Any:
    if not watch:
        return res.list_(svc, ref, label_selector, all_namespaces)
    timeout = min(float(timeout_seconds or 300), _max_watch_s())
    if timeout <= 0:
        raise InvalidArgument("timeoutSeconds: must be positive")
    return _stream(res.watch(svc, ref, resource_version, label_selector, timeout,
                             all_namespaces))


# namespaced -------------------------------------------------------------------------------
NS = "/namespaces/{namespace}/{plural}"


def _routes(prefix: str) -> None:
    """One handler per verb; registered for /apis/{group}/{version} and /api/{version}."""
    core = prefix == "/api/{version}"

    def ref(version: str, plural: str, namespace: str = "", name: str = "",
            group: str = "") -> res.Ref:
        return _ref("" if core else group, version, plural, namespace, name)

    @router.get(prefix + NS, operation_id=f"list_namespaced{'_core' if core else ''}")
    def list_namespaced(version: str, namespace: str, plural: str, group: str = "",
                        labelSelector: str | None = None, watch: bool = False,
                        resourceVersion: str | None = None, timeoutSeconds: int | None = None,
                        svc: Services = Depends(services)) -> Any:
        return _list(svc, ref(version, plural, namespace, group=group), labelSelector, watch,
                     resourceVersion, timeoutSeconds)

    @router.post(prefix + NS, operation_id=f"create_namespaced{'_core' if core else ''}",
                 status_code=201)
    def create_namespaced(version: str, namespace: str, plural: str, group: str = "",
                          body: dict[str, Any] = Body(...), svc: Services = Depends(services)
                          ) -> dict[str, Any]:
        return res.create(svc, ref(version, plural, namespace, group=group), body)

    @router.get(prefix + NS + "/{name}", operation_id=f"get_namespaced{'_core' if core else ''}")
    def get_namespaced(version: str, namespace: str, plural: str, name: str, group: str = "",
                       svc: Services = Depends(services)) -> dict[str, Any]:
        return res.get(svc, ref(version, plural, namespace, name, group))

    @router.put(prefix + NS + "/{name}",
                operation_id=f"replace_namespaced{'_core' if core else ''}")
    def replace_namespaced(version: str, namespace: str, plural: str, name: str,
                           group: str = "", body: dict[str, Any] = Body(...),
                           svc: Services = Depends(services)) -> dict[str, Any]:
        return res.replace(svc, ref(version, plural, namespace, name, group), body)

    @router.patch(prefix + NS + "/{name}", openapi_extra=_PATCH_BODY,
                  operation_id=f"patch_namespaced{'_core' if core else ''}")
    async def patch_namespaced(request: Request, version: str, namespace: str, plural: str,
                               name: str, group: str = "", svc: Services = Depends(services)
                               ) -> dict[str, Any]:
        body = await _json(request)
        return await asyncio.to_thread(res.patch_, svc, ref(version, plural, namespace, name,
                                                             group), body,
                                       request.headers.get("content-type", ""))

    @router.delete(prefix + NS + "/{name}",
                   operation_id=f"delete_namespaced{'_core' if core else ''}")
    def delete_namespaced(version: str, namespace: str, plural: str, name: str,
                          group: str = "", svc: Services = Depends(services)) -> dict[str, Any]:
        return res.delete(svc, ref(version, plural, namespace, name, group))

    @router.get(prefix + NS + "/{name}/log", response_class=PlainTextResponse,
                operation_id=f"log_namespaced{'_core' if core else ''}")
    def log_namespaced(version: str, namespace: str, plural: str, name: str, group: str = "",
                       svc: Services = Depends(services)) -> StreamingResponse:
        # Streamed in chunks, never read whole into memory.
        chunks = res.logs(svc, ref(version, plural, namespace, name, group))
        return StreamingResponse(chunks, media_type="text/plain; charset=utf-8")

    @router.get(prefix + NS + "/{name}/status",
                operation_id=f"get_namespaced_status{'_core' if core else ''}")
    def get_namespaced_status(version: str, namespace: str, plural: str, name: str,
                              group: str = "", svc: Services = Depends(services)
                              ) -> dict[str, Any]:
        return res.get(svc, ref(version, plural, namespace, name, group))

    @router.put(prefix + NS + "/{name}/status",
                operation_id=f"replace_namespaced_status{'_core' if core else ''}")
    def replace_namespaced_status(version: str, namespace: str, plural: str, name: str,
                                  group: str = "", body: dict[str, Any] = Body(...),
                                  svc: Services = Depends(services)) -> dict[str, Any]:
        return res.replace_status(svc, ref(version, plural, namespace, name, group), body)

    @router.patch(prefix + NS + "/{name}/status", openapi_extra=_PATCH_BODY,
                  operation_id=f"patch_namespaced_status{'_core' if core else ''}")
    async def patch_namespaced_status(request: Request, version: str, namespace: str,
                                      plural: str, name: str, group: str = "",
                                      svc: Services = Depends(services)) -> dict[str, Any]:
        body = await _json(request)
        return await asyncio.to_thread(
            res.patch_status, svc, ref(version, plural, namespace, name, group), body,
            request.headers.get("content-type", ""))


@router.get("/api/v1/namespaces/{namespace}/events", operation_id="list_events")
def list_events(namespace: str, fieldSelector: str | None = None,
                svc: Services = Depends(services)) -> dict[str, Any]:
    """Events of one object: fieldSelector=involvedObject.kind=K,involvedObject.name=N.
    Namespace "-" means a cluster-scoped object."""
    want: dict[str, str] = {}
    for term in (fieldSelector or "").split(","):
        key, _, value = term.partition("=")
        if term:
            want[key.strip()] = value.strip()
    kind, name = want.get("involvedObject.kind"), want.get("involvedObject.name")
    if not kind or not name:
        raise InvalidArgument("fieldSelector: give involvedObject.kind=KIND,"
                              "involvedObject.name=NAME")
    ns = "" if namespace == "-" else namespace
    items = [{"apiVersion": "v1", "kind": "Event", "involvedObject": {
        "kind": kind, "name": name, "namespace": ns}, **e}
        for e in res.events(svc, kind, ns, name)]
    return {"apiVersion": "v1", "kind": "EventList", "items": items}


_routes("/apis/{group}/{version}")
_routes("/api/{version}")


# cluster-scoped kinds, and lists across all namespaces ---------------------------------------
@router.get("/apis/{group}/{version}/{plural}", operation_id="list_cluster")
def list_cluster(group: str, version: str, plural: str, labelSelector: str | None = None,
                 watch: bool = False, resourceVersion: str | None = None,
                 timeoutSeconds: int | None = None, svc: Services = Depends(services)) -> Any:
    r = _ref(group, version, plural)
    info = res.info_for(r)
    return _list(svc, r, labelSelector, watch, resourceVersion, timeoutSeconds,
                 all_namespaces=info.namespaced)


@router.post("/apis/{group}/{version}/{plural}", operation_id="create_cluster", status_code=201)
def create_cluster(group: str, version: str, plural: str, body: dict[str, Any] = Body(...),
                   svc: Services = Depends(services)) -> dict[str, Any]:
    return res.create(svc, _ref(group, version, plural), body)


@router.get("/apis/{group}/{version}/{plural}/{name}", operation_id="get_cluster")
def get_cluster(group: str, version: str, plural: str, name: str,
                svc: Services = Depends(services)) -> dict[str, Any]:
    return res.get(svc, _ref(group, version, plural, "", name))


@router.put("/apis/{group}/{version}/{plural}/{name}", operation_id="replace_cluster")
def replace_cluster(group: str, version: str, plural: str, name: str,
                    body: dict[str, Any] = Body(...), svc: Services = Depends(services)
                    ) -> dict[str, Any]:
    return res.replace(svc, _ref(group, version, plural, "", name), body)


@router.delete("/apis/{group}/{version}/{plural}/{name}", operation_id="delete_cluster")
def delete_cluster(group: str, version: str, plural: str, name: str,
                   svc: Services = Depends(services)) -> dict[str, Any]:
    return res.delete(svc, _ref(group, version, plural, "", name))
