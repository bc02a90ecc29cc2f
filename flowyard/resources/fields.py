"""Kubernetes field selectors (`fieldSelector=metadata.name=x,status.phase!=Running`): the
fields every kind supports, and those some kinds add (pods: status.phase, spec.nodeName...;
events: involvedObject.*). Any other field is refused as the API server refuses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Matcher = Callable[[dict[str, Any]], bool]
COMMON = ("metadata.name", "metadata.namespace")
BY_KIND: dict[str, tuple[str, ...]] = {
    "Pod": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
            "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
            "status.nominatedNodeName"),
    "Event": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
              "involvedObject.uid", "involvedObject.apiVersion",
              "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
              "reportingComponent", "source", "type", "regarding.kind", "regarding.name",
              "regarding.namespace", "regarding.uid"),
    "Secret": ("type",),
    "Namespace": ("status.phase",),
    "ReplicaSet": ("status.replicas",),
    "Job": ("status.successful",),
    "Node": ("spec.unschedulable",),
}


def _value(obj: dict[str, Any], field: str) -> str:
    cur: Any = obj
    for part in field.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if field == "source" and isinstance(cur, dict):
        return str(cur.get("component") or "")
    return "" if cur is None else str(cur)


def parse(selector: str | None, kind: str) -> Matcher:
    if not selector:
        return lambda obj: True
    allowed = COMMON + BY_KIND.get(kind, ())
    terms: list[tuple[str, bool, str]] = []
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        for op in ("!=", "==", "="):
            if op in term:
                field, _, value = (s.strip() for s in term.partition(op))
                negate = op == "!="
                break
        else:
            raise ValueError(f"fieldSelector: invalid selector {term!r}: expected "
                             "field=value, field==value or field!=value")
        if field not in allowed:
            raise ValueError(f'field label not supported: {field} ("{kind}" supports '
                             f"{', '.join(allowed)})")
        terms.append((field, negate, value))

    def match(obj: dict[str, Any]) -> bool:
        return all((_value(obj, f) != v) if neg else (_value(obj, f) == v) for f, neg, v in terms)
    return match
