"""Strategic merge patch (`application/strategic-merge-patch+json`), as Kubernetes applies it
to its own kinds: lists with a patch merge key (containers by name, env by name, ports by
containerPort...) merge item by item, lists of primitives with strategy `merge` take the union,
other lists are replaced; the directives `$patch` (replace, delete, merge),
`$retainKeys`, `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` are honoured.
The merge keys come from the OpenAPI definitions (kube/schemas.py)."""

from __future__ import annotations

import copy
from typing import Any

from flowyard.kube.schemas import Schema, resolve

_DELETE_PRIM = "$deleteFromPrimitiveList/"
_ORDER = "$setElementOrder/"
MAX_DEPTH = 100  # a patch nested deeper than any Kubernetes object is refused


class PatchError(ValueError):
    pass


def _prop(schema: Schema, key: str, defs: dict[str, Schema]) -> Schema:
    schema = resolve(schema, defs)
    prop = (schema.get("properties") or {}).get(key)
    if prop is None:
        extra = schema.get("additionalProperties")
        return extra if isinstance(extra, dict) else {}
    return prop


def _items(schema: Schema, defs: dict[str, Schema]) -> Schema:
    return resolve(schema, defs).get("items") or {}


def _strategy(schema: Schema) -> tuple[set[str], str | None]:
    raw = str(schema.get("x-kubernetes-patch-strategy") or "")
    return {s for s in raw.split(",") if s}, schema.get("x-kubernetes-patch-merge-key")


def _order(merged: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item
    rank = {repr(ident(o) if key else o): i for i, o in enumerate(order)}
    known = sorted((m for m in merged if repr(ident(m)) in rank),
                   key=lambda m: rank[repr(ident(m))])
    return known + [m for m in merged if repr(ident(m)) not in rank]


def _merge_list(original: list[Any], patch: list[Any], schema: Schema,
                defs: dict[str, Schema], depth: int) -> list[Any]:
    strategies, key = _strategy(schema)
    if "merge" not in strategies:
        return [p for p in copy.deepcopy(patch)
                if not (isinstance(p, dict) and p.get("$patch"))]
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [p for p in copy.deepcopy(patch) if not (isinstance(p, dict) and "$patch" in p)]
    if key is None:  # a set of primitives
        out = list(original)
        out.extend(p for p in patch if p not in out)
        return out
    out = [copy.deepcopy(o) for o in original]
    item_schema = _items(schema, defs)
    for p in patch:
        if not isinstance(p, dict) or key not in p:
            raise PatchError(f"a list merged by {key!r} needs {key!r} in each item: {p!r}")
        idx = next((i for i, o in enumerate(out)
                    if isinstance(o, dict) and o.get(key) == p[key]), None)
        if p.get("$patch") == "delete":
            out = [o for o in out if not (isinstance(o, dict) and o.get(key) == p[key])]
        elif idx is None:
            out.append(apply({}, p, item_schema, defs, depth + 1))
        else:
            out[idx] = apply(out[idx], p, item_schema, defs, depth + 1)
    return out


def apply(original: Any, patch: Any, schema: Schema | None,
          defs: dict[str, Schema] | None = None, depth: int = 0) -> Any:
    """`original` with the strategic merge `patch` applied (neither is changed)."""
    from flowyard.kube.schemas import builtin_definitions

    defs = defs if defs is not None else builtin_definitions()
    if depth > MAX_DEPTH:
        raise PatchError(f"the patch is nested deeper than {MAX_DEPTH} levels")
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    schema = schema or {}
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive not in (None, "merge"):
        raise PatchError(f"$patch: unknown directive {directive!r} (replace, delete, merge)")
    out = dict(original) if isinstance(original, dict) else {}
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith(_ORDER):
            orders[key[len(_ORDER):]] = value if isinstance(value, list) else []
            continue
        if key.startswith(_DELETE_PRIM):
            field = key[len(_DELETE_PRIM):]
            if isinstance(out.get(field), list) and isinstance(value, list):
                out[field] = [v for v in out[field] if v not in value]
            continue
        child = _prop(schema, key, defs)
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            merged = apply(out.get(key), value, child, defs, depth + 1)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        elif isinstance(value, list):
            current = out.get(key) if isinstance(out.get(key), list) else []
            out[key] = _merge_list(current, value, child, defs, depth)
        else:
            out[key] = value
    for field, order in orders.items():
        if isinstance(out.get(field), list):
            _, key = _strategy(_prop(schema, field, defs))
            out[field] = _order(out[field], order, key)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out
