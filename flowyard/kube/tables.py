"""Table responses (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), what `kubectl get`
prints: Kubernetes' own printers for its kinds, and each custom kind's printer columns as its
upstream CustomResourceDefinition declares them (additionalPrinterColumns)."""

from __future__ import annotations

import json
from typing import Any

from flowyard.kube import jsonpath, printers
from flowyard.resources.kinds import KindInfo

PrinterColumn = tuple[str, str, str, int]  # name, type, jsonPath, priority
_STATE = [("State", "string", ".status.conditions[-1:].type", 0)]
_AGE = [("Age", "date", ".metadata.creationTimestamp", 0)]
_KATIB = [("Type", "string", ".status.conditions[-1:].type", 0),
          ("Status", "string", ".status.conditions[-1:].status", 0)]
_RUNTIME = [("Disabled", "boolean", ".spec.disabled", 0),
            ("ModelType", "string", ".spec.supportedModelFormats[*].name", 0),
            ("Containers", "string", ".spec.containers[*].name", 0)]
_TRAFFIC = ".status.components.predictor.traffic"
# The upstream CRDs' additionalPrinterColumns (training-operator v1.9, trainer, Katib,
# KServe, Argo Workflows), so `kubectl get tfjobs` prints NAME STATE AGE as upstream does.
UPSTREAM_COLUMNS: dict[tuple[str, str], list[PrinterColumn]] = {
    **{("kubeflow.org", k): _STATE + _AGE for k in (
        "TFJob", "PyTorchJob", "XGBoostJob", "PaddleJob", "JAXJob")},
    ("kubeflow.org", "MPIJob"): _AGE + _STATE,
    ("trainer.kubeflow.org", "TrainJob"): _STATE + _AGE,
    ("kubeflow.org", "Experiment"): _KATIB + _AGE,
    ("kubeflow.org", "Trial"): _KATIB + _AGE,
    ("kubeflow.org", "Suggestion"): [*_KATIB, ("Requested", "string", ".spec.requests", 0),
                                     ("Assigned", "string", ".status.suggestionCount", 0),
                                     *_AGE],
    ("serving.kserve.io", "InferenceService"): [
        ("URL", "string", ".status.url", 0),
        ("Ready", "string", ".status.conditions[?(@.type=='Ready')].status", 0),
        ("Prev", "integer", f"{_TRAFFIC}[?(@.tag=='prev')].percent", 0),
        ("Latest", "integer", f"{_TRAFFIC}[?(@.latestRevision==true)].percent", 0),
        ("PrevRolledoutRevision", "string", f"{_TRAFFIC}[?(@.tag=='prev')].revisionName", 0),
        ("LatestReadyRevision", "string",
         f"{_TRAFFIC}[?(@.latestRevision==true)].revisionName", 0), *_AGE],
    ("serving.kserve.io", "ServingRuntime"): _RUNTIME + _AGE,
    ("serving.kserve.io", "ClusterServingRuntime"): _RUNTIME + _AGE,
    ("argoproj.io", "Workflow"): [("Status", "string", ".status.phase", 0),
                                  ("Age", "date", ".status.startedAt", 0),
                                  ("Message", "string", ".status.message", 0)],
}
_NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, "
              "although some resources may allow a client to request the generation of an "
              "appropriate name automatically.")


def wants_table(accept: str) -> bool:
    """kubectl asks for a Table first and JSON as the fallback; honour the first choice."""
    first = accept.split(",")[0] if accept else ""
    return "as=Table" in first


def custom_columns(info: KindInfo) -> list[PrinterColumn]:
    if info.printer_columns:
        return list(info.printer_columns)
    return UPSTREAM_COLUMNS.get((info.group, info.kind), _AGE)


def _cell(type_: str, values: list[Any]) -> Any:
    if not values or values[0] is None:
        return None
    value = values[0]
    if type_ == "date":
        return printers.age(value) if isinstance(value, str) else None
    if type_ == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if type_ == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if type_ == "boolean":
        return value if isinstance(value, bool) else None
    return value if isinstance(value, str) else json.dumps(value)


def _definitions(info: KindInfo) -> tuple[list[dict[str, Any]], Any]:
    builtin = printers.PRINTERS.get((info.group, info.kind))
    if builtin is not None:
        cols, cells = builtin
        defs = [{"name": n, "type": "date" if t == "date" else t, "format": "name" if n ==
                 "Name" else "", "description": _NAME_DESC if n == "Name" else n,
                 "priority": p} for n, t, p in cols]
        return defs, cells
    custom = custom_columns(info)
    defs = [{"name": "Name", "type": "string", "format": "name", "description": _NAME_DESC,
             "priority": 0}]
    defs += [{"name": n, "type": "string" if t == "date" else t, "format": "", "description":
              f"Custom resource definition column (in JSONPath format): {p}",
              "priority": prio} for n, t, p, prio in custom]

    def cells(obj: dict[str, Any]) -> list[Any]:
        out = [(obj.get("metadata") or {}).get("name")]
        for _, type_, path, _ in custom:
            try:
                out.append(_cell(type_, jsonpath.find(obj, path)))
            except ValueError:
                out.append(None)
        return out
    return defs, cells


def _row_object(obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {}}


def table(info: KindInfo, items: list[dict[str, Any]], metadata: dict[str, Any],
          include_object: str = "Metadata", headers: bool = True) -> dict[str, Any]:
    defs, cells = _definitions(info)
    rows = [{"cells": cells(obj), "object": _row_object(obj, include_object)} for obj in items]
    out: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                           "metadata": metadata, "columnDefinitions": defs if headers else [],
                           "rows": rows}
    return out
