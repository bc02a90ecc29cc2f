"""The executor input a component receives and the outputs it leaves behind, byte for byte
in KFP's format (the protobuf JSON of ExecutorInput / ExecutorOutput)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flowyard.pipelines.errors import TaskError
from flowyard.pipelines.params import from_output_file

EXECUTOR_OUTPUT = "executor_output.json"


def runtime_artifact(name: str, type_schema: dict[str, Any], uri: str,
                     metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "type": {"schemaTitle": type_schema.get("schemaTitle", "system.Artifact"),
                 "schemaVersion": type_schema.get("schemaVersion", "0.0.1")},
        "uri": uri,
        "metadata": metadata or {},
    }


def build_executor_input(
    component: dict[str, Any],
    parameters: dict[str, Any],
    artifacts: dict[str, list[dict[str, Any]]],
    task_dir: Path,
    output_uri: Any,
) -> dict[str, Any]:
    """`output_uri(name)` gives where output artifact `name` is written."""
    out_defs = component.get("outputDefinitions", {})
    inputs: dict[str, Any] = {"parameterValues": {
        k: _protojson_numbers(v) if isinstance(v, list | dict) else v
        for k, v in parameters.items()}}
    if artifacts:
        inputs["artifacts"] = {
            name: {"artifacts": [_for_input(a) for a in arts]} for name, arts in artifacts.items()
        }
    outputs: dict[str, Any] = {}
    if out_defs.get("parameters"):
        outputs["parameters"] = {
            name: {"outputFile": str(task_dir / "outputs" / name)}
            for name in out_defs["parameters"]
        }
    if out_defs.get("artifacts"):
        outputs["artifacts"] = {
            name: {"artifacts": [runtime_artifact(name, d.get("artifactType", {}),
                                                  output_uri(name))]}
            for name, d in out_defs["artifacts"].items()
        }
    outputs["outputFile"] = str(task_dir / EXECUTOR_OUTPUT)
    return {"inputs": inputs, "outputs": outputs}


def _protojson_numbers(value: Any) -> Any:
    """Numbers inside a list or struct as Kubeflow hands them over: the compiler stores every
    one as a float (`[1, 2]` becomes `[1.0, 2.0]`) and KFP's Go backend writes integral
    floats back as integers (protojson), so a component gets `[1, 2]` again."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, list):
        return [_protojson_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _protojson_numbers(v) for k, v in value.items()}
    return value


def _for_input(art: dict[str, Any]) -> dict[str, Any]:
    return {k: art[k] for k in ("name", "type", "uri", "metadata") if k in art}


def collect_outputs(component: dict[str, Any], executor_input: dict[str, Any]) -> dict[str, Any]:
    """Read what the component wrote: the executor output file when there is one, otherwise the
    output parameter files. Returns {"parameters": {...}, "artifacts": {name: [artifact]}}."""
    out_defs = component.get("outputDefinitions", {})
    outputs = executor_input["outputs"]
    written: dict[str, Any] = {}
    out_file = Path(outputs["outputFile"])
    if out_file.exists() and out_file.stat().st_size:
        try:
            written = json.loads(out_file.read_text())
        except json.JSONDecodeError as exc:
            raise TaskError(f"{out_file} is not valid JSON: {exc}") from exc
    params: dict[str, Any] = {}
    for name, d in out_defs.get("parameters", {}).items():
        if name in written.get("parameterValues", {}):
            params[name] = written["parameterValues"][name]
            continue
        path = Path(outputs["parameters"][name]["outputFile"])
        if not path.exists():
            raise TaskError(f"the component did not write its output parameter {name!r} "
                            f"(expected a file at {path})")
        try:
            params[name] = from_output_file(d.get("parameterType", "STRING"), path.read_text())
        except ValueError as exc:
            raise TaskError(f"output parameter {name!r}: cannot read {path} as "
                            f"{d.get('parameterType')}: {exc}") from exc
    arts: dict[str, list[dict[str, Any]]] = {}
    for name in out_defs.get("artifacts", {}):
        declared = outputs["artifacts"][name]["artifacts"]
        updated = written.get("artifacts", {}).get(name, {}).get("artifacts")
        merged = []
        for i, art in enumerate(updated or declared):
            base = dict(declared[min(i, len(declared) - 1)])
            base["uri"] = art.get("uri") or base["uri"]
            base["metadata"] = art.get("metadata", base.get("metadata", {})) or {}
            if art.get("custom_path"):
                # Written somewhere of the component's choosing; moved into the store later.
                base["custom_path"] = art["custom_path"]
            merged.append(base)
        arts[name] = merged
    return {"parameters": params, "artifacts": arts}
