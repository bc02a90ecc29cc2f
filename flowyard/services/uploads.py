"""Pipelines uploaded from the dashboard: a compiled YAML/JSON (through the KFP upload
service) or a `.py` file holding a `@dsl.pipeline`, compiled here. A file whose pipeline name
already exists becomes a new version of that pipeline."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path, PurePath
from typing import Any

from flowyard.pipelines.errors import PipelineError
from flowyard.pipelines.loader import load_pipeline
from flowyard.services import pipelines
from flowyard.services.context import Services
from flowyard.services.errors import AlreadyExists, InvalidArgument, NotFound


def _compile_python(data: bytes, filename: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    with tempfile.TemporaryDirectory(prefix="flowyard-upload-") as tmp:
        path = Path(tmp) / (PurePath(filename).name or "pipeline.py")
        path.write_bytes(data)
        try:
            doc = load_pipeline(str(path))
        except PipelineError as exc:
            raise InvalidArgument(f"{filename}: {exc}") from None
        except Exception as exc:  # the user's module can fail anywhere on import
            raise InvalidArgument(f"{filename}: {type(exc).__name__}: {exc}") from None
    return doc.spec, doc.platform_spec


def _label(filename: str) -> str:
    """The file's name as a version name may spell it (KFP's names allow few characters)."""
    return re.sub(r"[^\w .\-()/:]", "_", PurePath(filename).name)[:100] or "upload"


def upload(svc: Services, data: bytes, filename: str, name: str = "",
           description: str = "") -> dict[str, Any]:
    """Store the file as a pipeline (or a new version of the pipeline with its name);
    returns {pipeline_id, pipeline_version_id}."""
    if filename.endswith(".py"):
        spec, platform = _compile_python(data, filename)
    else:
        spec, platform = pipelines.parse_package(data, filename)
    name = name.strip() or str(spec.get("pipelineInfo", {}).get("name")) or PurePath(
        filename).stem
    version: dict[str, Any] = {
        "pipeline_spec": ({"pipeline_spec": spec, "platform_spec": platform}
                          if platform else spec), "description": description}
    try:
        existing = pipelines.get_by_name(svc, name)
    except NotFound:
        version["name"] = f"v1 ({_label(filename)})"
        try:
            made = pipelines.create_with_version(svc, {
                "pipeline": {"name": name, "description": description},
                "pipeline_version": version})
        except AlreadyExists:  # an upload of the same name made it first: add a version
            existing = pipelines.get_by_name(svc, name)
        else:
            # By its name: the newest version may already be another upload's.
            vers = pipelines.list_versions(svc, made["pipeline_id"], filter=json.dumps(
                {"predicates": [{"key": "name", "operation": "EQUALS",
                                 "string_value": version["name"]}]}))
            return {"pipeline_id": made["pipeline_id"],
                    "pipeline_version_id": vers["pipeline_versions"][0]["pipeline_version_id"]}
    pid = existing["pipeline_id"]
    count = int(pipelines.list_versions(svc, pid, page_size=1).get("total_size", 0))
    # Versions are numbered; an upload racing this one takes the next number instead.
    for n in range(count + 1, count + 20):
        version["name"] = f"v{n} ({_label(filename)})"
        try:
            out = pipelines.create_version(svc, pid, version)
        except AlreadyExists:
            continue
        return {"pipeline_id": pid, "pipeline_version_id": out["pipeline_version_id"]}
    raise AlreadyExists(f"pipeline {name!r}: could not number a new version")
