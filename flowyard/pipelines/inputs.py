"""Resolving a task's inputs from its DAG scope, then checking them against the component's
input definitions (defaults, optional inputs, types)."""

from __future__ import annotations

from typing import Any

from flowyard.pipelines import cel
from flowyard.pipelines.errors import TaskError
from flowyard.pipelines.params import check, to_text
from flowyard.pipelines.results import Scope, TaskResult

MISSING = object()


def final_status(result: TaskResult | None, job_resource_name: str, task_name: str) -> dict[str, Any]:
    state = result.state if result else "FAILED"
    status: dict[str, Any] = {
        # KFP reports the ML Metadata execution state: COMPLETE, not SUCCEEDED.
        "state": "COMPLETE" if state in ("SUCCEEDED", "CACHED", "SKIPPED") else state,
        "pipelineJobResourceName": job_resource_name,
        "pipelineTaskName": task_name,
    }
    if result and result.error:
        status["error"] = {"code": 2, "message": result.error}
    elif result and result.broken:
        status["error"] = {"code": 2, "message": f"task {task_name} {state.lower()}"}
    return status


def parameter(src: dict[str, Any], scope: Scope, resource_name: str) -> Any:
    if "componentInputParameter" in src:
        value = scope.parameters.get(src["componentInputParameter"], MISSING)
    elif "taskOutputParameter" in src:
        ref = src["taskOutputParameter"]
        result = scope.results.get(ref["producerTask"])
        value = MISSING if result is None else result.outputs["parameters"].get(
            ref["outputParameterKey"], MISSING)
    elif "runtimeValue" in src:
        value = src["runtimeValue"].get("constant", MISSING)
    elif "taskFinalStatus" in src:
        producer = src["taskFinalStatus"]["producerTask"]
        value = final_status(scope.results.get(producer), resource_name, producer)
    else:
        raise TaskError(f"unsupported parameter source {sorted(src)}")
    selector = src.get("parameterExpressionSelector")
    if selector and value is not MISSING:
        value = cel.select(selector, value)
    return value


def _artifacts(src: dict[str, Any], scope: Scope) -> list[dict[str, Any]] | None:
    if "taskOutputArtifact" in src:
        ref = src["taskOutputArtifact"]
        result = scope.results.get(ref["producerTask"])
        return None if result is None else result.outputs["artifacts"].get(ref["outputArtifactKey"])
    if "componentInputArtifact" in src:
        return scope.artifacts.get(src["componentInputArtifact"])
    raise TaskError(f"unsupported artifact source {sorted(src)}")


def resolve(task: dict[str, Any], scope: Scope, resource_name: str
            ) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    spec = task.get("inputs", {})
    params: dict[str, Any] = {}
    for name, src in spec.get("parameters", {}).items():
        value = parameter(src, scope, resource_name)
        if value is not MISSING:
            params[name] = value
    arts: dict[str, list[dict[str, Any]]] = {}
    for name, src in spec.get("artifacts", {}).items():
        value = _artifacts(src, scope)
        if value:
            arts[name] = value
    return params, arts


def apply_definitions(component: dict[str, Any], params: dict[str, Any],
                      arts: dict[str, list[dict[str, Any]]], where: str) -> dict[str, Any]:
    """Defaults filled in, required inputs enforced, values checked against declared types."""
    defs = component.get("inputDefinitions", {})
    out = dict(params)
    for name, d in defs.get("parameters", {}).items():
        ptype = d.get("parameterType", "STRING")
        if out.get(name) is None:
            out.pop(name, None)
            if "defaultValue" in d:
                # Compiled defaults of integer inputs are written as floats (100.0).
                out[name] = _normalise(name, ptype, d["defaultValue"])
            elif not d.get("isOptional"):
                raise TaskError(f"{where}: required input parameter {name!r} has no value")
            continue
        try:
            out[name] = check(name, ptype, out[name])
        except ValueError as exc:
            # The IR lets a STRING input receive any JSON value (an f-string of a number, a
            # loop item that is a dict…); KFP's driver hands it on as JSON text, so a
            # `parseJson(string_value)` further down still reads it.
            if ptype == "STRING":
                out[name] = to_text(out[name])
            else:
                raise TaskError(f"{where}: {exc}") from exc
    for name, d in defs.get("artifacts", {}).items():
        if name not in arts and not d.get("isOptional"):
            raise TaskError(f"{where}: required input artifact {name!r} has no value")
    return out


def _normalise(name: str, ptype: str, value: Any) -> Any:
    try:
        return check(name, ptype, value)
    except ValueError:
        return value
