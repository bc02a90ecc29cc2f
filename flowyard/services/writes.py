"""What every write does besides storing: its options (fieldManager, fieldValidation, force,
dryRun), strict field validation of Kubernetes' kinds, the managedFields it records."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from flowyard.kube import schemas, ssa
from flowyard.resources import kinds
from flowyard.services.errors import InvalidArgument
from flowyard.store.resources import now_ts


@dataclass(frozen=True)
class WriteOptions:
    """The query parameters of a write: fieldManager, fieldValidation, force, dryRun."""

    manager: str = ""
    validation: str = ""
    force: bool = False
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def strict_unknown(info: kinds.KindInfo, body: dict[str, Any], opts: WriteOptions) -> None:
    """fieldValidation=Strict (what kubectl sends): an unknown field of a Kubernetes kind is
    an error naming it, as the API server's strict decoding reports it."""
    if opts.validation != "Strict" or not kinds.is_builtin(info.group):
        return
    name = schemas.definition_for(info)
    if name is None:
        return
    ref = {"$ref": f"#/definitions/{name}"}
    unknown = sorted(_unknown_fields(body, ref, ""))
    if unknown:
        raise InvalidArgument("strict decoding error: " + ", ".join(
            f'unknown field "{f}"' for f in unknown),
            [{"field": f, "message": "field not declared in schema",
              "reason": "FieldValueInvalid"} for f in unknown])


def _unknown_fields(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    schema = schemas.resolve(schema)
    out: list[str] = []
    if isinstance(value, dict) and schema.get("properties") is not None:
        props = schema["properties"]
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if key in props:
                out.extend(_unknown_fields(item, props[key], child))
            elif not (path == "" and key in ("apiVersion", "kind")) and not key.startswith(
                    "$"):
                out.append(child)
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, item in value.items():
            out.extend(_unknown_fields(item, schema["additionalProperties"], f"{path}.{key}"))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out.extend(_unknown_fields(item, schema["items"], f"{path}[{i}]"))
    return out


def _manager(opts: WriteOptions, default: str = "unknown") -> str:
    return opts.manager or default


def with_managed(info: kinds.KindInfo, before: dict[str, Any] | None, after: dict[str, Any],
                  opts: WriteOptions) -> dict[str, Any]:
    """`after` with metadata.managedFields recording this (non-apply) write's manager."""
    if opts.extra.get("keep_managed"):
        return after
    schema, defs = schema_of(info)
    entries = ssa.record_update(before, after, _manager(opts), schema, defs, now_ts(),
                                info.api_version)
    out = copy.deepcopy(after)
    if entries:
        out.setdefault("metadata", {})["managedFields"] = entries
    return out


def schema_of(info: kinds.KindInfo) -> tuple[dict[str, Any], dict[str, Any]]:
    if kinds.is_builtin(info.group):
        # Loading the definitions imports the kubernetes client's models (about a second,
        # once per process; `flowyard up` does it in the background at start).
        name = schemas.definition_for(info)
        if name:
            return {"$ref": f"#/definitions/{name}"}, schemas.builtin_definitions()
    return (info.schema or {}), {}
