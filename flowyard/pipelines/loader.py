"""Turn whatever a user points at (a `@dsl.pipeline`, a compiled YAML/JSON, `file.py[:fn]`,
a component) into the IR: a PipelineSpec dict plus its optional platform spec."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flowyard.pipelines.errors import PipelineError
from flowyard.pipelines.validate import validate_spec


@dataclass
class PipelineDoc:
    spec: dict[str, Any]
    platform_spec: dict[str, Any] | None
    source: str

    @property
    def name(self) -> str:
        return str(self.spec.get("pipelineInfo", {}).get("name", "pipeline"))


def load_pipeline(pipeline: Any) -> PipelineDoc:
    if isinstance(pipeline, PipelineDoc):
        return pipeline
    if isinstance(pipeline, dict):
        return _from_docs([pipeline], "<dict>")
    if isinstance(pipeline, str | Path):
        return _from_path(str(pipeline))
    if hasattr(pipeline, "pipeline_spec") or callable(pipeline):
        return _compile(pipeline, getattr(pipeline, "name", repr(pipeline)))
    raise PipelineError(
        f"cannot run {type(pipeline).__name__}: expected a @dsl.pipeline function, a component, "
        "a path to a compiled .yaml/.json, or 'file.py[:function]'")


def _from_path(text: str) -> PipelineDoc:
    path_text, _, func = text.partition(":") if ".py:" in text else (text, "", "")
    path = Path(path_text)
    if not path.exists():
        raise PipelineError(f"{path}: no such file")
    if path.suffix == ".py":
        return _from_python(path, func or None)
    try:
        raw = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{path}: cannot read: {exc}") from exc
    if path.suffix == ".json":
        try:
            docs = [json.loads(raw)]
        except json.JSONDecodeError as exc:
            raise PipelineError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from exc
    else:
        try:
            docs = [d for d in yaml.safe_load_all(raw) if d is not None]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark else ""
            raise PipelineError(f"{path}: {where}invalid YAML: {exc}") from exc
    return _from_docs(docs, str(path))


def _from_docs(docs: list[Any], source: str) -> PipelineDoc:
    if not docs or not isinstance(docs[0], dict):
        raise PipelineError(f"{source}: expected a KFP PipelineSpec mapping, found nothing usable")
    first = docs[0]
    if "pipeline_spec" in first and isinstance(first["pipeline_spec"], dict):
        # The shape the KFP REST API carries: {"pipeline_spec": ..., "platform_spec": ...}.
        return _from_docs([first["pipeline_spec"], first.get("platform_spec")], source)
    if "implementation" in first or ("executorLabel" not in first and "inputs" in first
                                     and "root" not in first):
        return _from_v1_component(first, source)
    if "root" not in first and "deploymentSpec" not in first:
        raise PipelineError(
            f"{source}: not a compiled KFP pipeline: missing 'root' and 'deploymentSpec' "
            "(expected the YAML that kfp.compiler.Compiler writes)")
    platform = docs[1] if len(docs) > 1 and isinstance(docs[1], dict) else None
    validate_spec(first, source)
    return PipelineDoc(first, platform, source)


def _from_v1_component(doc: dict[str, Any], source: str) -> PipelineDoc:
    from kfp import components

    try:
        comp = components.load_component_from_text(yaml.safe_dump(doc))
    except Exception as exc:
        raise PipelineError(f"{source}: invalid component: {exc}") from exc
    return _compile(comp, source)


def _from_python(path: Path, func: str | None) -> PipelineDoc:
    mod_name = f"_flowyard_pipeline_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise PipelineError(f"{path}: cannot import")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise PipelineError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.pop(0)
    if func:
        obj = getattr(module, func, None)
        if obj is None:
            raise PipelineError(f"{path}: has no function {func!r}")
        return _compile(obj, f"{path}:{func}")
    from kfp.dsl.graph_component import GraphComponent

    found = [n for n, v in vars(module).items() if isinstance(v, GraphComponent)]
    if len(found) != 1:
        what = "no @dsl.pipeline function" if not found else f"several pipelines ({', '.join(found)})"
        raise PipelineError(f"{path}: found {what}; name one as {path}:FUNCTION")
    return _compile(getattr(module, found[0]), f"{path}:{found[0]}")


def _compile(obj: Any, source: str) -> PipelineDoc:
    from google.protobuf import json_format
    from kfp.dsl import base_component
    from kfp.dsl.types import type_utils

    if not isinstance(obj, base_component.BaseComponent):
        raise PipelineError(f"{source}: expected a @dsl.pipeline or a component, got {type(obj).__name__}")
    try:
        with type_utils.TypeCheckManager(enable=True):
            spec, platform = obj.pipeline_spec, obj.platform_spec
    except Exception as exc:
        raise PipelineError(f"{source}: kfp could not compile it: {exc}") from exc
    # Exactly the documents Compiler.compile writes to YAML, without the YAML round trip.
    docs = [json_format.MessageToDict(spec)]
    if platform.platforms:
        docs.append(json_format.MessageToDict(platform))
    return _from_docs(docs, source)
