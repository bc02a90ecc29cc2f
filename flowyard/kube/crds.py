"""CustomResourceDefinitions: a CRD applied by a user registers its kind (served, discovered,
in OpenAPI, printed with its additionalPrinterColumns), and objects of that kind are pruned
and validated against the version's openAPIV3Schema as the API server does."""

from __future__ import annotations

from typing import Any

from flowyard.resources.kinds import KindInfo
from flowyard.resources.objects import ObjectError

GROUP, PLURAL = "apiextensions.k8s.io", "customresourcedefinitions"


def check(crd: dict[str, Any]) -> None:
    """What a CRD needs before it can register a kind."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    problems: list[tuple[str, str]] = []
    for field in ("group", "scope"):
        if not spec.get(field):
            problems.append((f"spec.{field}", "Required value"))
    if spec.get("scope") not in (None, "Namespaced", "Cluster"):
        problems.append(("spec.scope", 'Unsupported value: expected "Namespaced" or "Cluster"'))
    for field in ("plural", "kind"):
        if not names.get(field):
            problems.append((f"spec.names.{field}", "Required value"))
    name = (crd.get("metadata") or {}).get("name")
    if names.get("plural") and spec.get("group") and name != f"{names['plural']}.{spec['group']}":
        problems.append(("metadata.name", f"must be spec.names.plural+\".\"+spec.group "
                         f"({names.get('plural')}.{spec.get('group')})"))
    versions = spec.get("versions") or []
    if not versions:
        problems.append(("spec.versions", "must have at least one version"))
    if sum(bool(v.get("storage")) for v in versions if isinstance(v, dict)) != 1 and versions:
        problems.append(("spec.versions", "must have exactly one version marked as storage"))
    for i, v in enumerate(versions):
        if not isinstance(v, dict) or not v.get("name"):
            problems.append((f"spec.versions[{i}].name", "Required value"))
        elif not isinstance(((v.get("schema") or {}).get("openAPIV3Schema")), dict):
            problems.append((f"spec.versions[{i}].schema.openAPIV3Schema", "Required value: "
                             "schemas are required"))
    if problems:
        raise ObjectError(problems)


def kinds_of(crd: dict[str, Any]) -> list[KindInfo]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for v in spec.get("versions") or []:
        if not isinstance(v, dict) or not v.get("served", True):
            continue
        columns = tuple((str(c.get("name")), str(c.get("type", "string")),
                         str(c.get("jsonPath", "")), int(c.get("priority", 0)))
                        for c in v.get("additionalPrinterColumns") or []
                        if isinstance(c, dict))
        subresources = tuple(k for k in (v.get("subresources") or {}) if k in ("status",
                                                                               "scale"))
        out.append(KindInfo(
            str(spec.get("group")), str(v.get("name")), str(names.get("kind")),
            str(names.get("plural")), namespaced=spec.get("scope") != "Cluster",
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()), subresources=subresources,
            printer_columns=columns,
            schema=(v.get("schema") or {}).get("openAPIV3Schema") or {}))
    return out


def _preserves(schema: dict[str, Any]) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


def prune(value: Any, schema: dict[str, Any], top: bool = False, path: str = "",
          dropped: list[str] | None = None) -> Any:
    """Drop fields the schema does not declare (structural pruning), keeping what
    x-kubernetes-preserve-unknown-fields or additionalProperties allow; `dropped` collects
    the paths of what went."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        out = {}
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if top and key in ("apiVersion", "kind", "metadata"):
                out[key] = item
            elif key in props:
                out[key] = prune(item, props[key], path=child, dropped=dropped)
            elif isinstance(extra, dict):
                out[key] = prune(item, extra, path=child, dropped=dropped)
            elif _preserves(schema) or extra is True or schema.get(
                    "x-kubernetes-embedded-resource"):
                out[key] = item
            elif dropped is not None:
                dropped.append(child)
        return out
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            return [prune(v, items, path=f"{path}[{i}]", dropped=dropped)
                    for i, v in enumerate(value)]
    return value


class UnknownFields(ValueError):
    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        super().__init__("strict decoding error: " + ", ".join(
            f'unknown field "{f}"' for f in fields))


def _nullable(schema: Any) -> Any:
    """OpenAPI's `nullable` and `x-kubernetes-int-or-string` in JSON Schema terms."""
    if isinstance(schema, list):
        return [_nullable(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _nullable(v) for k, v in schema.items()}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def _path(error: Any) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate(obj: dict[str, Any], schema: dict[str, Any], strict: bool = False
             ) -> dict[str, Any]:
    """The object pruned, or ObjectError naming every field that breaks the schema;
    `strict` (fieldValidation=Strict): an unknown field is an error (UnknownFields)."""
    import jsonschema

    dropped: list[str] = []
    pruned = prune(obj, schema, top=True, dropped=dropped)
    if strict and dropped:
        raise UnknownFields(dropped)
    check_schema = _nullable({**schema, "properties": {
        k: v for k, v in (schema.get("properties") or {}).items() if k != "metadata"}})
    validator = jsonschema.Draft7Validator(check_schema)
    problems = []
    for err in sorted(validator.iter_errors(pruned), key=lambda e: list(e.absolute_path)):
        field = _path(err)
        problems.append((field, f"Invalid value: {err.instance!r}: {field or '<root>'} in "
                         f"body {err.message}" if err.validator != "required"
                         else f"Required value: {err.message}"))
    if problems:
        raise ObjectError(problems)
    return pruned
