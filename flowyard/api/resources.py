"""The Kubernetes API for objects:
/apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}[/status|scale|log]] (and /api/v1/...
for the core group; cluster-scoped kinds without the namespaces/{ns} part). Lists and objects
come as Tables when kubectl asks for them; watches stream without holding a thread."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from flowyard.api.deps import services
from flowyard.kube import tables
from flowyard.services import kube_events, resource_lists, scale, watching
from flowyard.services import resources as res
from flowyard.services.context import Services
from flowyard.services.errors import InvalidArgument, NotFound, NotSupported
from flowyard.services.writes import WriteOptions

router = APIRouter(tags=["Resources"])
_PATCH_BODY = {"requestBody": {"required": True, "content": {
    "application/merge-patch+json": {"schema": {"type": "object"}},
    "application/strategic-merge-patch+json": {"schema": {"type": "object"}},
    "application/apply-patch+yaml": {"schema": {"type": "object"}},
    "application/json-patch+json": {"schema": {"type": "array", "items": {"type": "object"}}},
    "application/json": {"schema": {"type": "object"}}}}}
_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object"}}}}}
MAX_WATCH_S = 3600.0  # a client wanting more re-watches from the last resourceVersion
_EVENT_GROUPS = ("", "events.k8s.io")


def _max_watch_s() -> float:
    return float(os.environ.get("FLOWYARD_MAX_WATCH_SECONDS") or MAX_WATCH_S)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if "protobuf" in request.headers.get("content-type", ""):
        # Kubernetes' protobuf needs the Go types' field numbers; JSON and YAML say the same.
        raise UnsupportedMedia("the body of the request was in an unknown format - accepted "
                               "media types include: application/json, application/yaml "
                               "(Flowyard does not read Kubernetes protobuf: use `kubectl "
                               "create -f`/`kubectl apply -f` with a manifest instead of "
                               "`kubectl create <kind>` or `kubectl run`)")
    try:
        if "yaml" in request.headers.get("content-type", ""):
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, yaml.YAMLError):
        raise InvalidArgument("the request body is not valid JSON (or YAML for an apply "
                              "patch)") from None


class UnsupportedMedia(res.Unsupported):
    pass


def _opts(request: Request) -> WriteOptions:
    q = request.query_params
    agent = request.headers.get("user-agent", "unknown").split("/")[0] or "unknown"
    validation = q.get("fieldValidation", "")
    if validation not in ("", "Strict", "Warn", "Ignore"):
        raise InvalidArgument(f"fieldValidation: Unsupported value: {validation!r}: supported "
                              "values: Ignore, Warn, Strict")
    return WriteOptions(manager=q.get("fieldManager") or agent, validation=validation,
                            force=q.get("force", "").lower() == "true",
                            dry_run=q.get("dryRun") == "All")


def _json(obj: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(obj, status_code=status)


def _present(request: Request, info: Any, obj: dict[str, Any], is_list: bool = False
             ) -> dict[str, Any]:
    if not tables.wants_table(request.headers.get("accept", "")):
        return obj
    include = request.query_params.get("includeObject", "Metadata")
    if is_list:
        return tables.table(info, obj["items"], obj.get("metadata") or {}, include)
    return tables.table(info, [obj], {"resourceVersion": obj["metadata"].get(
        "resourceVersion", "")}, include)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _int(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(f"{name}: expected an integer, got {value!r}") from None


async def _list(request: Request, svc: Services, ref: res.Ref, all_namespaces: bool) -> Any:
    q = request.query_params
    info = await asyncio.to_thread(res.info_for, ref, None, svc)
    watch = q.get("watch", "").lower() in ("true", "1")
    if ref.plural == "events" and ref.group in _EVENT_GROUPS and not watch:
        out = await asyncio.to_thread(kube_events.list_events, svc,
                                      None if all_namespaces else ref.namespace,
                                      q.get("fieldSelector"), None, ref.group)
        return _json(_present(request, info, out, is_list=True))
    if watch:
        timeout = min(float(_int(q.get("timeoutSeconds"), "timeoutSeconds") or 1800),
                      _max_watch_s())
        if timeout <= 0:
            raise InvalidArgument("timeoutSeconds: must be positive")
        if ref.plural == "events" and ref.group in _EVENT_GROUPS:
            stream = await kube_events.watch_events(
                svc, None if all_namespaces else ref.namespace, q.get("fieldSelector"),
                q.get("resourceVersion"), timeout, ref.group)
            return StreamingResponse(_lines(_tabled(request, info, stream)),
                                     media_type="application/json")
        table = tables.wants_table(request.headers.get("accept", ""))
        include = q.get("includeObject", "Metadata")

        def render(event: dict[str, Any]) -> dict[str, Any]:
            if table and event["type"] != "BOOKMARK":
                return {"type": event["type"], "object": tables.table(
                    info, [event["object"]], {"resourceVersion": event["object"][
                        "metadata"].get("resourceVersion", "")}, include)}
            return event

        initial = q.get("sendInitialEvents")
        events = await watching.watch(
            svc, ref, _client(request), q.get("resourceVersion"), q.get("labelSelector"),
            q.get("fieldSelector"), timeout, all_namespaces,
            q.get("allowWatchBookmarks", "").lower() in ("true", "1"),
            None if initial is None else initial.lower() == "true", render)
        return StreamingResponse(_lines(events), media_type="application/json")
    out = await asyncio.to_thread(resource_lists.list_, svc, ref, q.get("labelSelector"), all_namespaces,
                                  q.get("fieldSelector"), _int(q.get("limit"), "limit"),
                                  q.get("continue"))
    return _json(_present(request, info, out, is_list=True))


async def _tabled(request: Request, info: Any, events: AsyncIterator[dict[str, Any]]
                  ) -> AsyncIterator[dict[str, Any]]:
    async for event in events:
        yield {"type": event["type"], "object": _present(request, info, event["object"])}


async def _lines(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for event in events:
        yield (json.dumps(event) + "\n").encode()


async def _create(request: Request, svc: Services, ref: res.Ref) -> Any:
    body = await _body(request)
    if ref.plural == "events" and ref.group in _EVENT_GROUPS:
        out = await asyncio.to_thread(kube_events.create_event, svc, ref.namespace, body,
                                      ref.group)
        return _json(out, 201)
    opts = _opts(request)
    return _json(await asyncio.to_thread(res.create, svc, ref, body, opts), 201)


async def _get(request: Request, svc: Services, ref: res.Ref) -> Any:
    if ref.plural == "events" and ref.group in _EVENT_GROUPS:
        return _json(await asyncio.to_thread(kube_events.get_event, svc, ref.namespace,
                                             ref.name, ref.group))
    info = await asyncio.to_thread(res.info_for, ref, None, svc)
    obj = await asyncio.to_thread(res.get, svc, ref)
    return _json(_present(request, info, obj))


async def _replace(request: Request, svc: Services, ref: res.Ref) -> Any:
    body = await _body(request)
    return _json(await asyncio.to_thread(res.replace, svc, ref, body, _opts(request)))


async def _patch(request: Request, svc: Services, ref: res.Ref) -> Any:
    body = await _body(request)
    content_type = request.headers.get("content-type", "")
    if "apply-patch" in content_type:
        info = await asyncio.to_thread(res.info_for, ref, None, svc)
        out, created = await asyncio.to_thread(res.server_side_apply, svc, ref, info, body,
                                               _opts(request))
        return _json(out, 201 if created else 200)  # as the API server answers
    out = await asyncio.to_thread(res.patch_, svc, ref, body, content_type, _opts(request))
    return _json(out)


async def _delete(request: Request, svc: Services, ref: res.Ref) -> Any:
    raw = await request.body()
    options: dict[str, Any] = {}
    if raw.strip():
        try:
            options = json.loads(raw)
        except ValueError:
            raise InvalidArgument("the DeleteOptions body is not JSON") from None
        if not isinstance(options, dict):
            raise InvalidArgument("DeleteOptions: expected an object")
    propagation = request.query_params.get("propagationPolicy")
    out = await asyncio.to_thread(res.delete, svc, ref, propagation, options)
    return _json(out, 200 if out.get("kind") == "Status" else 202)


async def _delete_collection(request: Request, svc: Services, ref: res.Ref,
                             all_namespaces: bool = False) -> Any:
    """DELETE on a collection (deletecollection): every object the selectors match."""
    q = request.query_params
    listed = await asyncio.to_thread(resource_lists.list_, svc, ref, q.get("labelSelector"),
                                     all_namespaces, q.get("fieldSelector"))
    for obj in listed["items"]:
        meta = obj["metadata"]
        one = res.Ref(ref.group, ref.version, ref.plural, meta.get("namespace", ""),
                      meta["name"])
        try:
            await asyncio.to_thread(res.delete, svc, one, q.get("propagationPolicy"))
        except NotFound:
            continue  # gone meanwhile
    return _json(listed)


# The streaming subresources of a pod (kubectl exec, attach, cp, port-forward): not built.
_STREAMS = {"exec": "kubectl exec, kubectl cp", "attach": "kubectl attach",
            "portforward": "kubectl port-forward"}


async def _sub(request: Request, svc: Services, ref: res.Ref, sub: str) -> Any:
    info = await asyncio.to_thread(res.info_for, ref, None, svc)
    method = request.method
    if info.plural == "pods" and sub in _STREAMS:
        await asyncio.to_thread(res.get, svc, ref)  # a missing pod is a 404 first
        raise NotSupported(
            f"pods/{sub} ({_STREAMS[sub]}) is not served by Flowyard yet: a pod's "
            f"processes run on this machine; read their output with `kubectl logs`, and "
            f"reach their ports at the pod IP that `kubectl get pod -o wide` shows")
    if sub == "log" and method == "GET":
        # Streamed in chunks, never read whole into memory.
        chunks = await asyncio.to_thread(res.logs, svc, ref)
        return StreamingResponse(chunks, media_type="text/plain; charset=utf-8")
    if sub not in info.subresources or sub == "log" or method == "POST":
        raise NotFound(f"the server could not find the requested resource ({method} "
                       f"{info.plural}/{sub})")
    if sub == "scale":
        if method == "GET":
            return _json(await asyncio.to_thread(scale.get_scale, svc, ref))
        body = await _body(request)
        ct = "" if method == "PUT" else request.headers.get("content-type", "")
        return _json(await asyncio.to_thread(scale.set_scale, svc, ref, body, ct,
                                             _opts(request)))
    if method == "GET":
        return _json(await asyncio.to_thread(res.get, svc, ref))
    body = await _body(request)
    if method == "PUT":
        return _json(await asyncio.to_thread(res.replace_status, svc, ref, body))
    return _json(await asyncio.to_thread(res.patch_status, svc, ref, body,
                                         request.headers.get("content-type", "")))


def _doc(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """OpenAPI for a handler that reads its path from the request: the path parameters."""
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
              for n in re.findall(r"{(\w+)}", path)]
    return {"parameters": params, **(body or {})}


def _routes(prefix: str) -> None:
    """One handler per verb, for /apis/{group}/{version} and /api/{version}."""
    core = prefix == "/api/{version}"
    tag = "_core" if core else ""
    ns_path = prefix + "/namespaces/{namespace}/{plural}"
    cl_path = prefix + "/{plural}"

    def ref(p: dict[str, str], name: str = "") -> res.Ref:
        return res.checked_ref("" if core else p.get("group", ""), p["version"], p["plural"],
                               p.get("namespace", ""), name or p.get("name", ""))

    @router.get(ns_path, operation_id=f"list_namespaced{tag}", openapi_extra=_doc(ns_path))
    async def list_namespaced(request: Request, svc: Services = Depends(services)) -> Any:
        return await _list(request, svc, ref(request.path_params), False)

    @router.post(ns_path, operation_id=f"create_namespaced{tag}", status_code=201,
                 openapi_extra=_doc(ns_path, _BODY))
    async def create_namespaced(request: Request, svc: Services = Depends(services)) -> Any:
        return await _create(request, svc, ref(request.path_params))

    @router.delete(ns_path, operation_id=f"delete_collection_namespaced{tag}",
                   openapi_extra=_doc(ns_path))
    async def delete_collection_namespaced(request: Request, svc: Services = Depends(services)
                                           ) -> Any:
        return await _delete_collection(request, svc, ref(request.path_params))

    @router.get(ns_path + "/{name}", operation_id=f"get_namespaced{tag}",
                openapi_extra=_doc(ns_path + "/{name}"))
    async def get_namespaced(request: Request, svc: Services = Depends(services)) -> Any:
        return await _get(request, svc, ref(request.path_params))

    @router.put(ns_path + "/{name}", operation_id=f"replace_namespaced{tag}",
                openapi_extra=_doc(ns_path + "/{name}", _BODY))
    async def replace_namespaced(request: Request, svc: Services = Depends(services)) -> Any:
        return await _replace(request, svc, ref(request.path_params))

    @router.patch(ns_path + "/{name}", openapi_extra=_doc(ns_path + "/{name}", _PATCH_BODY),
                  operation_id=f"patch_namespaced{tag}")
    async def patch_namespaced(request: Request, svc: Services = Depends(services)) -> Any:
        return await _patch(request, svc, ref(request.path_params))

    @router.delete(ns_path + "/{name}", operation_id=f"delete_namespaced{tag}",
                   openapi_extra=_doc(ns_path + "/{name}"))
    async def delete_namespaced(request: Request, svc: Services = Depends(services)) -> Any:
        return await _delete(request, svc, ref(request.path_params))

    for method in ("GET", "PUT", "PATCH", "POST"):
        router.add_api_route(ns_path + "/{name}/{sub}", _sub_namespaced, methods=[method],
                             operation_id=f"{method.lower()}_namespaced_sub{tag}",
                             openapi_extra=_doc(ns_path + "/{name}/{sub}", _PATCH_BODY
                                                if method != "GET" else None))

    @router.get(cl_path, operation_id=f"list_cluster{tag}", openapi_extra=_doc(cl_path))
    async def list_cluster(request: Request, svc: Services = Depends(services)) -> Any:
        r = ref(request.path_params)
        info = await asyncio.to_thread(res.info_for, r, None, svc)
        return await _list(request, svc, r, info.namespaced)

    @router.post(cl_path, operation_id=f"create_cluster{tag}", status_code=201,
                 openapi_extra=_doc(cl_path, _BODY))
    async def create_cluster(request: Request, svc: Services = Depends(services)) -> Any:
        return await _create(request, svc, ref(request.path_params))

    @router.delete(cl_path, operation_id=f"delete_collection_cluster{tag}",
                   openapi_extra=_doc(cl_path))
    async def delete_collection_cluster(request: Request, svc: Services = Depends(services)
                                        ) -> Any:
        r = ref(request.path_params)
        info = await asyncio.to_thread(res.info_for, r, None, svc)
        return await _delete_collection(request, svc, r, info.namespaced)

    @router.get(cl_path + "/{name}", operation_id=f"get_cluster{tag}",
                openapi_extra=_doc(cl_path + "/{name}"))
    async def get_cluster(request: Request, svc: Services = Depends(services)) -> Any:
        return await _get(request, svc, ref(request.path_params))

    @router.put(cl_path + "/{name}", operation_id=f"replace_cluster{tag}",
                openapi_extra=_doc(cl_path + "/{name}", _BODY))
    async def replace_cluster(request: Request, svc: Services = Depends(services)) -> Any:
        return await _replace(request, svc, ref(request.path_params))

    @router.patch(cl_path + "/{name}", openapi_extra=_doc(cl_path + "/{name}", _PATCH_BODY),
                  operation_id=f"patch_cluster{tag}")
    async def patch_cluster(request: Request, svc: Services = Depends(services)) -> Any:
        return await _patch(request, svc, ref(request.path_params))

    @router.delete(cl_path + "/{name}", operation_id=f"delete_cluster{tag}",
                   openapi_extra=_doc(cl_path + "/{name}"))
    async def delete_cluster(request: Request, svc: Services = Depends(services)) -> Any:
        return await _delete(request, svc, ref(request.path_params))

    for method in ("GET", "PUT", "PATCH", "POST"):
        router.add_api_route(cl_path + "/{name}/{sub}", _sub_cluster, methods=[method],
                             operation_id=f"{method.lower()}_cluster_sub{tag}",
                             openapi_extra=_doc(cl_path + "/{name}/{sub}", _PATCH_BODY
                                                if method != "GET" else None))


def _ref_from(request: Request) -> res.Ref:
    p = request.path_params
    core = request.url.path.startswith("/api/")
    return res.checked_ref("" if core else p.get("group", ""), p["version"], p["plural"],
                           p.get("namespace", ""), p.get("name", ""))


async def _sub_namespaced(request: Request, svc: Services = Depends(services)) -> Response:
    return await _sub(request, svc, _ref_from(request), request.path_params["sub"])


async def _sub_cluster(request: Request, svc: Services = Depends(services)) -> Response:
    return await _sub(request, svc, _ref_from(request), request.path_params["sub"])


_routes("/apis/{group}/{version}")
_routes("/api/{version}")
