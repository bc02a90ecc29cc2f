"""OpenAPI definitions of Kubernetes' own kinds, generated from the model classes of the
`kubernetes` Python client (their openapi_types, attribute_map and property docs), plus the
patch strategies of Kubernetes' Go types (`patchStrategy`/`patchMergeKey` struct tags), which
kubectl's client-side apply and the server's strategic merge patch both rely on."""

from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path
from typing import Any

from flowyard.resources.kinds import KINDS, KindInfo, is_builtin

Schema = dict[str, Any]
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_META_TYPES = {"ObjectMeta", "ListMeta", "LabelSelector", "LabelSelectorRequirement",
               "OwnerReference", "ManagedFieldsEntry", "Status", "StatusDetails", "StatusCause",
               "Condition", "DeleteOptions", "Preconditions", "APIResource", "APIResourceList"}
_GROUP_PATH = {"": "core", "apps": "apps", "batch": "batch", "discovery.k8s.io": "discovery",
               "events.k8s.io": "events", "apiextensions.k8s.io": "apiextensions",
               "autoscaling": "autoscaling"}

# (Go type, JSON field) -> (patch strategy, merge key). From Kubernetes' API types.
PATCH: dict[tuple[str, str], tuple[str, str | None]] = {
    ("PodSpec", "containers"): ("merge", "name"),
    ("PodSpec", "initContainers"): ("merge", "name"),
    ("PodSpec", "ephemeralContainers"): ("merge", "name"),
    ("PodSpec", "volumes"): ("merge,retainKeys", "name"),
    ("PodSpec", "imagePullSecrets"): ("merge", "name"),
    ("PodSpec", "hostAliases"): ("merge", "ip"),
    ("PodSpec", "resourceClaims"): ("merge,retainKeys", "name"),
    ("PodSpec", "schedulingGates"): ("merge", "name"),
    ("Container", "ports"): ("merge", "containerPort"),
    ("Container", "env"): ("merge", "name"),
    ("Container", "volumeMounts"): ("merge", "mountPath"),
    ("Container", "volumeDevices"): ("merge", "devicePath"),
    ("EphemeralContainer", "ports"): ("merge", "containerPort"),
    ("EphemeralContainer", "env"): ("merge", "name"),
    ("EphemeralContainer", "volumeMounts"): ("merge", "mountPath"),
    ("EphemeralContainer", "volumeDevices"): ("merge", "devicePath"),
    ("ObjectMeta", "finalizers"): ("merge", None),
    ("ObjectMeta", "ownerReferences"): ("merge", "uid"),
    ("PodStatus", "conditions"): ("merge", "type"),
    ("PodStatus", "podIPs"): ("merge", "ip"),
    ("PodStatus", "hostIPs"): ("merge", "ip"),
    ("ServiceSpec", "ports"): ("merge", "port"),
    ("ServiceStatus", "conditions"): ("merge", "type"),
    ("DeploymentSpec", "strategy"): ("retainKeys", None),
    ("DeploymentStatus", "conditions"): ("merge", "type"),
    ("ReplicaSetStatus", "conditions"): ("merge", "type"),
    ("StatefulSetStatus", "conditions"): ("merge", "type"),
    ("JobStatus", "conditions"): ("merge", "type"),
    ("NamespaceStatus", "conditions"): ("merge", "type"),
    ("PersistentVolumeClaimStatus", "conditions"): ("merge", "type"),
}
# (Go type, JSON field) -> list-map keys, for server-side apply's associative lists.
LIST_MAP: dict[tuple[str, str], list[str]] = {
    ("Container", "ports"): ["containerPort", "protocol"],
    ("ServiceSpec", "ports"): ["port", "protocol"],
}
# The fields the client types as `object` that are IntOrString in the Go types.
_INT_OR_STRING = {"port", "targetPort", "maxSurge", "maxUnavailable", "minAvailable"}
_QUANTITY_MAPS = {"limits", "requests", "capacity", "allocatable", "hard", "used",
                  "allocatedResources"}


def def_name(model: str, group: str) -> str:
    """`V1PodSpec` -> `io.k8s.api.core.v1.PodSpec` (meta types under apimachinery)."""
    m = re.match(r"^(?:CoreV1|EventsV1)(Event\w*)$", model)
    if m:
        path = "core" if model.startswith("Core") else "events"
        return f"io.k8s.api.{path}.v1.{m.group(1)}"
    m = re.match(r"^(V\d+(?:alpha\d+|beta\d+)?)(.+)$", model)
    version, name = (m.group(1).lower(), m.group(2)) if m else ("v1", model)
    if name in _META_TYPES:
        return META + name
    if group == "apiextensions.k8s.io":
        return f"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{name}"
    return f"io.k8s.api.{_GROUP_PATH.get(group, 'core')}.{version}.{name}"


def _go_name(model: str) -> str:
    m = re.match(r"^(?:V\d+(?:alpha\d+|beta\d+)?|CoreV1|EventsV1)(.+)$", model)
    return m.group(1) if m else model


def _doc(cls: type, attr: str) -> str:
    prop = getattr(cls, attr, None)
    text = getattr(prop, "__doc__", "") or ""
    parts = [p.strip() for p in text.split("\n\n")]
    body = parts[1] if len(parts) > 2 else ""
    return body.replace("  # noqa: E501", "").strip()


def _required(cls: type) -> list[str]:
    module = importlib.import_module(cls.__module__)
    source = Path(module.__file__ or "").read_text()
    names = re.findall(r"client_side_validation and (\w+) is None", source)
    return [cls.attribute_map[n] for n in names if n in cls.attribute_map]


class _Builder:
    def __init__(self) -> None:
        import kubernetes.client.models as models

        self.models = models
        self.defs: dict[str, Schema] = {}
        self.names: dict[str, str] = {}

    def ref(self, model: str, group: str) -> Schema:
        if model not in self.names:
            self.names[model] = def_name(model, group)
            self.defs[self.names[model]] = {}  # reserve: recursive types terminate
            self.defs[self.names[model]] = self.build(model, group)
        return {"$ref": f"#/definitions/{self.names[model]}"}

    def type_of(self, t: str, group: str, field: str) -> Schema:
        if t.startswith("list["):
            return {"type": "array", "items": self.type_of(t[5:-1], group, field)}
        if t.startswith("dict("):
            inner = t[t.index(",") + 1:-1].strip()
            if field in _QUANTITY_MAPS:
                return {"type": "object", "additionalProperties": {
                    "x-kubernetes-int-or-string": True}}
            return {"type": "object", "additionalProperties": self.type_of(inner, group, field)}
        simple = {"str": {"type": "string"}, "int": {"type": "integer", "format": "int64"},
                  "float": {"type": "number", "format": "double"},
                  "bool": {"type": "boolean"},
                  "datetime": {"type": "string", "format": "date-time"},
                  "date": {"type": "string", "format": "date"},
                  "object": {"x-kubernetes-int-or-string": True}}
        if t in simple:
            if t == "object" and field not in _INT_OR_STRING:
                # RawExtension, FieldsV1, JSON: free-form in the Go types
                return {"x-kubernetes-preserve-unknown-fields": True}
            return dict(simple[t])
        if hasattr(self.models, t):
            return self.ref(t, group)
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

    def build(self, model: str, group: str) -> Schema:
        cls = getattr(self.models, model)
        go = _go_name(model)
        props: dict[str, Schema] = {}
        for attr, t in cls.openapi_types.items():
            field = cls.attribute_map[attr]
            schema = self.type_of(t, group, field)
            if "$ref" in schema:
                schema = {"allOf": [schema]}
            desc = _doc(cls, attr)
            if desc:
                schema["description"] = desc
            if (go, field) in PATCH:
                strategy, key = PATCH[go, field]
                schema["x-kubernetes-patch-strategy"] = strategy
                if key:
                    schema["x-kubernetes-patch-merge-key"] = key
                if key and schema.get("type") == "array":
                    schema["x-kubernetes-list-type"] = "map"
                    schema["x-kubernetes-list-map-keys"] = LIST_MAP.get((go, field), [key])
            props[field] = schema
        out: Schema = {"type": "object", "properties": props}
        required = _required(cls)
        if required:
            out["required"] = required
        if go == "JSONSchemaProps":  # a CRD's schema is itself free-form JSON schema
            out = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        return out


def _model_for(info: KindInfo) -> str:
    if info.kind == "Event":
        return "EventsV1Event" if info.group else "CoreV1Event"
    return f"{info.version.upper()}{info.kind}"


@functools.lru_cache(maxsize=1)
def builtin_definitions() -> dict[str, Schema]:
    """Definitions of every built-in kind served (and all they reference), each top-level
    one tagged with x-kubernetes-group-version-kind."""
    b = _Builder()
    for info in sorted((k for k in KINDS if is_builtin(k.group)),
                       key=lambda k: (k.group != "", k.group)):
        model = _model_for(info)
        if not hasattr(b.models, model):
            continue
        ref = b.ref(model, info.group)["$ref"].rsplit("/", 1)[1]
        b.defs[ref]["x-kubernetes-group-version-kind"] = [
            {"group": info.group, "version": info.version, "kind": info.kind}]
        list_model = f"{model}List"
        if hasattr(b.models, list_model):
            lref = b.ref(list_model, info.group)["$ref"].rsplit("/", 1)[1]
            b.defs[lref]["x-kubernetes-group-version-kind"] = [
                {"group": info.group, "version": info.version, "kind": f"{info.kind}List"}]
    scale = b.ref("V1Scale", "autoscaling")["$ref"].rsplit("/", 1)[1]
    b.defs[scale]["x-kubernetes-group-version-kind"] = [
        {"group": "autoscaling", "version": "v1", "kind": "Scale"}]
    for extra in ("V1Status", "V1DeleteOptions", "V1APIResourceList"):
        b.ref(extra, "")
    return b.defs


def definition_for(info: KindInfo) -> str | None:
    """The definition name of a built-in kind, or None for custom kinds."""
    for name, schema in builtin_definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            if (gvk["group"], gvk["version"], gvk["kind"]) == (info.group, info.version,
                                                               info.kind):
                return name
    return None


def resolve(schema: Schema | None, defs: dict[str, Schema] | None = None) -> Schema:
    """A schema with its top-level $ref / allOf[$ref] followed."""
    defs = defs if defs is not None else builtin_definitions()
    while schema:
        ref = schema.get("$ref") or ((schema.get("allOf") or [{}])[0].get("$ref"))
        if not ref:
            return schema
        schema = defs.get(ref.rsplit("/", 1)[1], {})
    return schema or {}
