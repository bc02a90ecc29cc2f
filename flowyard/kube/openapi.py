"""OpenAPI v2 (/openapi/v2) and v3 (/openapi/v3, /openapi/v3/{api/v1 | apis/G/V}) documents
for every kind served. kubectl reads v3 to learn that the server validates fields itself
(`fieldValidation` on PATCH), which patch types a kind takes (strategic merge only for
Kubernetes' own kinds) and the schema `kubectl explain` prints; v2 carries the same
definitions for older clients."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from flowyard.kube import schemas
from flowyard.resources.kinds import KindInfo, is_builtin

_PARAMS = [{"name": n, "in": "query", "schema": {"type": t}, "description": d} for n, t, d in (
    ("fieldValidation", "string", "Strict, Warn or Ignore: what to do with unknown fields"),
    ("fieldManager", "string", "the name of the actor making the change"),
    ("force", "boolean", "server-side apply: take ownership of conflicting fields"),
    ("dryRun", "string", "All: validate, do not persist"))]
_LIST_PARAMS = [{"name": n, "in": "query", "schema": {"type": t}} for n, t in (
    ("labelSelector", "string"), ("fieldSelector", "string"), ("limit", "integer"),
    ("continue", "string"), ("resourceVersion", "string"), ("watch", "boolean"),
    ("allowWatchBookmarks", "boolean"), ("timeoutSeconds", "integer"),
    ("sendInitialEvents", "boolean"))]


def _custom_schema(info: KindInfo) -> dict[str, Any]:
    """A custom kind's schema: its CRD's openAPIV3Schema, or for the Kubeflow kinds built in,
    the spec fields Flowyard checks (other fields are kept)."""
    meta = {"$ref": f"#/definitions/{schemas.META}ObjectMeta"}
    if info.schema:
        out = copy.deepcopy(info.schema)
        out.setdefault("properties", {})["metadata"] = meta
    else:
        spec: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        if info.spec is not None:
            model = info.spec.model_json_schema(ref_template="#/x-spec-defs/{model}")
            model.pop("$defs", None)
            spec.update(description=f"What Flowyard checks in a {info.kind}'s spec; other "
                        "fields are kept as given.",
                        required=model.get("required", []),
                        properties=_loose(model.get("properties", {})))
        out = {"type": "object", "description": f"{info.kind} ({info.api_version})",
               "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                              "metadata": meta, "spec": spec,
                              "status": {"type": "object",
                                         "x-kubernetes-preserve-unknown-fields": True}}}
    out["x-kubernetes-group-version-kind"] = [
        {"group": info.group, "version": info.version, "kind": info.kind}]
    return out


def _loose(props: dict[str, Any]) -> dict[str, Any]:
    """Pydantic's property schemas, reduced to what a CRD schema may say (no $ref/anyOf to
    definitions the document does not carry): nested objects keep unknown fields."""
    out = {}
    for name, p in props.items():
        if "$ref" in p or "anyOf" in p or "allOf" in p or p.get("type") == "object":
            out[name] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        elif p.get("type") == "array":
            out[name] = {"type": "array", "items": {"x-kubernetes-preserve-unknown-fields": True}}
        else:
            out[name] = {k: v for k, v in p.items() if k in (
                "type", "enum", "minimum", "maximum", "minLength", "maxLength", "format")}
    return out


def definition_name(info: KindInfo) -> str:
    builtin = schemas.definition_for(info) if is_builtin(info.group) else None
    if builtin:
        return builtin
    prefix = ".".join(reversed(info.group.split("."))) if info.group else "core"
    return f"{prefix}.{info.version}.{info.kind}"


def definitions(kinds: Iterable[KindInfo]) -> dict[str, Any]:
    defs = dict(schemas.builtin_definitions())
    for info in kinds:
        if not (is_builtin(info.group) and schemas.definition_for(info)):
            defs[definition_name(info)] = _custom_schema(info)
    return defs


def _base(info: KindInfo) -> str:
    return f"/api/{info.version}" if not info.group else f"/apis/{info.group}/{info.version}"


def _operations(info: KindInfo, ref: str, v3: bool) -> dict[str, dict[str, Any]]:
    """Paths and operations for one kind, each tagged with its group/version/kind."""
    gvk = {"group": info.group, "version": info.version, "kind": info.kind}
    body_types = ["application/json-patch+json", "application/merge-patch+json",
                  "application/apply-patch+yaml"]
    if is_builtin(info.group):
        body_types.append("application/strategic-merge-patch+json")
    ns = "/namespaces/{namespace}" if info.namespaced else ""
    collection = f"{_base(info)}{ns}/{info.plural}"
    item = collection + "/{name}"
    path_params = ([{"name": "namespace", "in": "path", "required": True,
                     "schema": {"type": "string"}}] if info.namespaced else [])
    item_params = [*path_params, {"name": "name", "in": "path", "required": True,
                                  "schema": {"type": "string"}}]

    def op(action: str, params: list[dict[str, Any]], body: list[str] | None = None
           ) -> dict[str, Any]:
        schema = {"$ref": ref}
        out: dict[str, Any] = {"operationId": f"{action}{info.kind}",
                               "x-kubernetes-action": action,
                               "x-kubernetes-group-version-kind": gvk}
        if v3:
            out["parameters"] = params
            out["responses"] = {"200": {"description": "OK", "content": {
                "application/json": {"schema": schema}}}}
            if body:
                out["requestBody"] = {"content": {t: {"schema": schema} for t in body}}
        else:
            out["parameters"] = [{**{k: v for k, v in p.items() if k != "schema"},
                                  "type": p["schema"]["type"]} for p in params]
            out["responses"] = {"200": {"description": "OK", "schema": schema}}
            if body:
                out["consumes"] = body
                out["parameters"].append({"name": "body", "in": "body", "required": True,
                                          "schema": schema})
        return out

    paths = {
        collection: {"get": op("list", path_params + _LIST_PARAMS),
                     "post": op("post", path_params + _PARAMS, ["application/json"])},
        item: {"get": op("get", item_params),
               "put": op("put", item_params + _PARAMS, ["application/json"]),
               "patch": op("patch", item_params + _PARAMS, body_types),
               "delete": op("delete", item_params)},
    }
    for sub in info.subresources:
        if sub in ("status", "scale"):
            paths[f"{item}/{sub}"] = {
                "get": op("get", item_params),
                "put": op("put", item_params + _PARAMS, ["application/json"]),
                "patch": op("patch", item_params + _PARAMS, body_types)}
            if sub == "scale":
                for method in paths[f"{item}/{sub}"].values():
                    method["x-kubernetes-group-version-kind"] = {
                        "group": "autoscaling", "version": "v1", "kind": "Scale"}
    return paths


def _v3_refs(doc: Any) -> Any:
    text = json.dumps(doc).replace('"#/definitions/', '"#/components/schemas/')
    return json.loads(text)


def v2(kinds: list[KindInfo]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for info in kinds:
        paths.update(_operations(info, f"#/definitions/{definition_name(info)}", v3=False))
    return {"swagger": "2.0", "info": {"title": "Kubernetes (Flowyard)", "version": "v1.32.0"},
            "paths": paths, "definitions": definitions(kinds)}


def _gv_path(info: KindInfo) -> str:
    return _base(info).lstrip("/")


def v3_index(kinds: list[KindInfo]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for gv in sorted({_gv_path(k) for k in kinds}):
        digest = _digest(tuple(k for k in kinds if _gv_path(k) == gv))
        out[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": out}


def _digest(kinds: tuple[KindInfo, ...]) -> str:
    seed = json.dumps([(k.group, k.version, k.kind, k.schema) for k in kinds], default=str)
    return hashlib.sha512(seed.encode()).hexdigest()[:64].upper()


def v3_group(kinds: list[KindInfo], gv_path: str) -> dict[str, Any] | None:
    served = [k for k in kinds if _gv_path(k) == gv_path]
    if not served:
        return None
    return _v3_group(gv_path, _digest(tuple(served)), tuple(served))


@functools.lru_cache(maxsize=64)
def _v3_group(gv_path: str, digest: str, served: tuple[KindInfo, ...]) -> dict[str, Any]:
    # Keyed by the digest too: a KindInfo compares without its schema, which a CRD can change.
    paths: dict[str, Any] = {}
    for info in served:
        paths.update(_operations(info, f"#/definitions/{definition_name(info)}", v3=True))
    return _v3_refs({"openapi": "3.0.0", "info": {"title": "Kubernetes (Flowyard)",
                                                  "version": "v1.32.0"},
                     "paths": paths, "components": {"schemas": definitions(served)}})
