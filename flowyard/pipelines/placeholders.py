"""Resolution of KFP command-line placeholders against an executor input.

Covers `{{$}}`, `{{$.inputs.parameters['x']}}`, `{{$.inputs.artifacts['x'].path|uri|metadata}}`,
`{{$.inputs.artifacts['x']}}` (a List[Artifact] input, as a JSON list),
`{{$.outputs.parameters['x'].output_file}}`, `{{$.outputs.artifacts['x'].path|uri|metadata}}`,
`{{$.outputs.output_file}}`, the pipeline job/task names and ids, and the structured
`IfPresent` and `Concat` placeholders (nested freely)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowyard.pipelines.errors import TaskError
from flowyard.pipelines.params import to_text

_PLACEHOLDER = re.compile(r"\{\{\$(\.[^{}]*)?\}\}")
_IO = re.compile(
    r"^\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\](?:\.(\w+))?(?:\['([^']+)'\])?$")


@dataclass
class JobContext:
    job_name: str
    job_resource_name: str
    job_id: str
    task_name: str
    task_id: str
    pipeline_root: str
    create_time: str
    workspace: str = ""

    def value(self, key: str) -> str | None:
        if key == "workspace_path":
            Path(self.workspace).mkdir(parents=True, exist_ok=True)
            return self.workspace
        return {
            "pipeline_job_name": self.job_name,
            "pipeline_job_resource_name": self.job_resource_name,
            "pipeline_job_uuid": self.job_id,
            "pipeline_task_name": self.task_name,
            "pipeline_task_uuid": self.task_id,
            "pipeline_root": self.pipeline_root,
            "pipeline_job_create_time_utc": self.create_time,
            "pipeline_job_schedule_time_utc": self.create_time,
        }.get(key)


def _artifact(ex: dict[str, Any], side: str, name: str) -> dict[str, Any] | None:
    arts = ex.get(side, {}).get("artifacts", {}).get(name, {}).get("artifacts", [])
    return arts[0] if arts else None


def _one(expr: str, ex: dict[str, Any], job: JobContext) -> str | None:
    """The text for one placeholder body (after `{{$`), None when an optional input is absent."""
    if expr == "":
        return json.dumps(ex)
    if expr == ".outputs.output_file":
        return str(ex.get("outputs", {}).get("outputFile", ""))
    if (v := job.value(expr[1:])) is not None:
        return v
    m = _IO.match(expr)
    if not m:
        raise TaskError(f"unsupported placeholder {{{{${expr}}}}}")
    side, kind, name, attr, key = m.groups()
    if kind == "parameters":
        if side == "inputs":
            values = ex.get("inputs", {}).get("parameterValues", {})
            if name not in values:
                return None
            return to_text(values[name])
        if attr == "output_file":
            return str(ex["outputs"]["parameters"][name]["outputFile"])
        raise TaskError(f"unsupported placeholder {{{{${expr}}}}}")
    if attr is None:
        if side == "outputs":
            raise TaskError(f"unsupported placeholder {{{{${expr}}}}}: a list of output "
                            "artifacts can only be a pipeline's output, not a container's")
        # A List[Artifact] input as a whole. Kubeflow's launcher leaves this placeholder
        # unreplaced and kfp.local cannot resolve it; here it is the JSON list of the
        # artifacts exactly as `{{$}}` holds them (name, type, uri = the local path,
        # metadata), so a command can read every path.
        arts = ex.get("inputs", {}).get("artifacts", {}).get(name)
        return None if arts is None else json.dumps(arts.get("artifacts", []))
    art = _artifact(ex, side, name)
    if art is None:
        return None
    if attr in ("path", "uri"):
        return str(art["uri"])
    if attr == "metadata":
        meta = art.get("metadata", {})
        return to_text(meta.get(key)) if key else json.dumps(meta)
    if attr == "value":
        return to_text(art.get("metadata", {}).get("value"))
    raise TaskError(f"unsupported placeholder {{{{${expr}}}}}")


def resolve_text(text: str, ex: dict[str, Any], job: JobContext) -> str:
    """Every placeholder inside `text` replaced; an absent optional input becomes ''."""

    def sub(m: re.Match[str]) -> str:
        value = _one(m.group(1) or "", ex, job)
        return "" if value is None else value

    return _PLACEHOLDER.sub(sub, text)


def _present(name: str, ex: dict[str, Any]) -> bool:
    inputs = ex.get("inputs", {})
    return name in inputs.get("parameterValues", {}) or bool(
        inputs.get("artifacts", {}).get(name, {}).get("artifacts"))


def _structured(element: Any, ex: dict[str, Any], job: JobContext) -> list[str]:
    if isinstance(element, list):
        out: list[str] = []
        for e in element:
            out.extend(_structured(e, ex, job))
        return out
    if isinstance(element, dict):
        if "IfPresent" in element:
            spec = element["IfPresent"]
            branch = spec.get("Then") if _present(spec["InputName"], ex) else spec.get("Else")
            return [] if branch is None else _structured(branch, ex, job)
        if "Concat" in element:
            return ["".join("".join(_structured(e, ex, job)) for e in element["Concat"])]
        raise TaskError(f"unsupported structured placeholder {json.dumps(element)}")
    text = str(element)
    stripped = text.strip()
    if stripped.startswith('{"IfPresent"') or stripped.startswith('{"Concat"'):
        try:
            return _structured(json.loads(stripped), ex, job)
        except json.JSONDecodeError:
            pass
    m = _PLACEHOLDER.fullmatch(text)
    if m:
        # A lone placeholder for an absent optional input drops the argument entirely.
        value = _one(m.group(1) or "", ex, job)
        return [] if value is None else [value]
    return [resolve_text(text, ex, job)]


def resolve_command(elements: list[Any], ex: dict[str, Any], job: JobContext) -> list[str]:
    return _structured(list(elements), ex, job)
