"""The scale subresource (autoscaling/v1 Scale) of Deployments, ReplicaSets, StatefulSets and
the training kinds that declare it: what `kubectl scale` reads and writes."""

from __future__ import annotations

from typing import Any

from flowyard.resources import kinds
from flowyard.resources.objects import ObjectError
from flowyard.services.context import Services
from flowyard.services.resources import Invalid, Ref, WriteOptions, _patched, get, replace


def get_scale(svc: Services, ref: Ref) -> dict[str, Any]:
    """The autoscaling/v1 Scale of a Deployment, ReplicaSet, StatefulSet (what `kubectl
    scale` reads and writes)."""
    obj = get(svc, ref)
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {
        k: obj["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion",
                                        "creationTimestamp") if k in obj["metadata"]},
        "spec": {"replicas": int(spec.get("replicas", 1))},
        "status": {"replicas": int(status.get("replicas") or 0),
                   "selector": ",".join(f"{k}={v}" for k, v in sorted(sel.items()))}}


def set_scale(svc: Services, ref: Ref, body: Any, content_type: str = "",
              opts: WriteOptions | None = None) -> dict[str, Any]:
    current = get_scale(svc, ref)
    new = body if not content_type or (content_type.startswith("application/json") and (
        "patch" not in content_type)) else _patched(
        kinds.KindInfo("autoscaling", "v1", "Scale", "scale"), current, body,
        content_type.replace("strategic-merge-patch", "merge-patch"))
    replicas = ((new or {}).get("spec") or {}).get("replicas") if isinstance(new, dict) else None
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise Invalid("Scale", ref.name, ObjectError([("spec.replicas", "Invalid value: must "
                                                        "be a non-negative integer")]))
    obj = get(svc, ref)
    obj.setdefault("spec", {})["replicas"] = replicas
    replace(svc, ref, obj, opts)
    return get_scale(svc, ref)
