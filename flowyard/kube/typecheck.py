"""Type checks of Kubernetes' own kinds against their OpenAPI definitions, as the API
server's decoding does (`containers: "not-a-list"` is refused, naming the field). A null is
accepted anywhere (decoding leaves the field unset), quantities and int-or-string fields take
both forms."""

from __future__ import annotations

import functools
from typing import Any

from flowyard.kube import schemas


def _jsonschema(node: Any) -> Any:
    """The definitions in JSON Schema terms: int-or-string as anyOf, refs kept."""
    if isinstance(node, list):
        return [_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _jsonschema(v) for k, v in node.items() if not k.startswith("x-kubernetes")
           or k == "x-kubernetes-int-or-string"}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("x-kubernetes-preserve-unknown-fields"):
        out.pop("type", None)
    out.pop("format", None)  # int64/date-time say nothing a type check needs
    return out


@functools.lru_cache(maxsize=64)
def _validator(definition: str) -> Any:
    import jsonschema

    defs = {k: _jsonschema(v) for k, v in schemas.builtin_definitions().items()}
    return jsonschema.Draft7Validator({"$ref": f"#/definitions/{definition}",
                                       "definitions": defs})


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _path(error: Any) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def problems(definition: str, obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, message) for each value of the wrong type or required field missing."""
    out = []
    for err in _validator(definition).iter_errors(_without_nulls(obj)):
        field = _path(err)
        if err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else err.message
            out.append((f"{field}.{missing}" if field else missing, "Required value"))
        elif err.validator in ("type", "anyOf"):
            want = err.schema.get("type") or "integer or string"
            out.append((field, f"Invalid value: {err.instance!r}: expected {want}"))
        else:
            out.append((field, err.message))
    return sorted(set(out))
