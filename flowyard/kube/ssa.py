"""Server-side apply (`application/apply-patch+yaml`): each field manager owns the fields it
applied (metadata.managedFields, FieldsV1); applying a value for a field another manager owns
with a different value is a conflict (409 naming the fields and managers) unless force=true,
which takes the fields over; fields a manager applied before and leaves out now are removed
when no one else owns them. Lists merge by their list-map keys (containers by name...)."""

from __future__ import annotations

import copy
import json
from typing import Any

from flowyard.kube.schemas import Schema, resolve

Path = tuple[str, ...]
_SKIP_META = {"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp",
              "deletionTimestamp", "selfLink"}


class ApplyConflict(Exception):
    def __init__(self, conflicts: list[tuple[str, str]]) -> None:
        self.conflicts = conflicts  # (manager, field path)
        text = "; ".join(f'conflict with "{m}": {p}' for m, p in conflicts)
        super().__init__(f"Apply failed with {len(conflicts)} conflict"
                         f"{'s' if len(conflicts) != 1 else ''}: {text}")


def _child(schema: Schema, key: str, defs: dict[str, Schema]) -> Schema:
    schema = resolve(schema, defs)
    props = schema.get("properties") or {}
    if key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else {}


def _map_keys(schema: Schema, defs: dict[str, Schema]) -> list[str] | None:
    schema = resolve(schema, defs)
    keys = schema.get("x-kubernetes-list-map-keys")
    if not keys and schema.get("x-kubernetes-patch-merge-key"):
        keys = [schema["x-kubernetes-patch-merge-key"]]
    return list(keys) if keys else None


def _item_key(item: dict[str, Any], keys: list[str]) -> str:
    return "k:" + json.dumps({k: item.get(k) for k in keys if k in item}, separators=(",", ":"),
                             sort_keys=True)


def leaves(obj: Any, schema: Schema, defs: dict[str, Schema], prefix: Path = ()) -> dict[
        Path, Any]:
    """Each owned leaf field of `obj` and its value."""
    out: dict[Path, Any] = {}
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            if not prefix and key in ("apiVersion", "kind", "status"):
                continue
            if prefix == ("f:metadata",) and key in _SKIP_META | {"name", "namespace"}:
                continue
            out.update(leaves(value, _child(schema, key, defs), defs, (*prefix, f"f:{key}")))
        return out
    if isinstance(obj, list):
        keys = _map_keys(schema, defs)
        items = resolve(schema, defs).get("items") or {}
        if keys and all(isinstance(i, dict) for i in obj):
            for item in obj:
                path = (*prefix, _item_key(item, keys))
                out[(*path, ".")] = True
                out.update(leaves(item, items, defs, path))
            return out
    out[prefix] = obj
    return out


def fields_v1(paths: list[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path:
            node = node.setdefault(part, {})
    return tree


def paths_of(fields: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in (fields or {}).items():
        if isinstance(sub, dict) and sub and key != ".":
            out |= paths_of(sub, (*prefix, key))
        else:
            out.add((*prefix, key) if key != "." else (*prefix, "."))
    return out


def _show(path: Path) -> str:
    out = ""
    for part in path:
        if part == ".":
            continue
        out += "." + part[2:] if part.startswith("f:") else f"[{part[2:]}]"
    return out or "."


def _lookup(obj: Any, path: Path) -> Any:
    for part in path:
        if part == ".":
            return obj
        if part.startswith("f:"):
            obj = obj.get(part[2:]) if isinstance(obj, dict) else None
        elif part.startswith("k:") and isinstance(obj, list):
            want = json.loads(part[2:])
            obj = next((i for i in obj if isinstance(i, dict) and all(
                i.get(k) == v for k, v in want.items())), None)
        else:
            return None
    return obj


def _remove(obj: Any, path: Path) -> None:
    if not path or path[-1] == ".":
        return
    parent = _lookup(obj, path[:-1])
    last = path[-1]
    if isinstance(parent, dict) and last.startswith("f:"):
        parent.pop(last[2:], None)
    elif isinstance(parent, list) and last.startswith("k:"):
        want = json.loads(last[2:])
        parent[:] = [i for i in parent if not (isinstance(i, dict) and all(
            i.get(k) == v for k, v in want.items()))]


def merge(live: Any, applied: Any, schema: Schema, defs: dict[str, Schema]) -> Any:
    if isinstance(live, dict) and isinstance(applied, dict):
        out = dict(live)
        for key, value in applied.items():
            out[key] = merge(live.get(key), value, _child(schema, key, defs), defs)
        return out
    if isinstance(live, list) and isinstance(applied, list):
        keys = _map_keys(schema, defs)
        items = resolve(schema, defs).get("items") or {}
        if keys and all(isinstance(i, dict) for i in live + applied):
            out_list = [copy.deepcopy(i) for i in live]
            for item in applied:
                idx = next((n for n, i in enumerate(out_list)
                            if _item_key(i, keys) == _item_key(item, keys)), None)
                if idx is None:
                    out_list.append(copy.deepcopy(item))
                else:
                    out_list[idx] = merge(out_list[idx], item, items, defs)
            return out_list
    return copy.deepcopy(applied)


def apply(live: dict[str, Any] | None, applied: dict[str, Any], manager: str, force: bool,
          schema: Schema, defs: dict[str, Schema], now: str, api_version: str
          ) -> dict[str, Any]:
    """The object after `manager` applies `applied` to `live` (None: it does not exist),
    with metadata.managedFields updated. Raises ApplyConflict."""
    entries = copy.deepcopy(((live or {}).get("metadata") or {}).get("managedFields") or [])
    mine = leaves(applied, schema, defs)
    conflicts: list[tuple[str, str]] = []
    if live is not None:
        for entry in entries:
            if entry.get("manager") == manager and entry.get("operation") == "Apply":
                continue
            theirs = paths_of(entry.get("fieldsV1") or {})
            for path in sorted(theirs & set(mine)):
                if path[-1] != "." and _lookup(live, path) != mine[path]:
                    conflicts.append((str(entry.get("manager")), _show(path)))
        if conflicts and not force:
            raise ApplyConflict(conflicts)
    previous: set[Path] = set()
    kept = []
    for entry in entries:
        theirs = paths_of(entry.get("fieldsV1") or {})
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            previous = theirs
            continue
        if force:
            theirs -= set(mine)
        if theirs:
            kept.append({**entry, "fieldsV1": fields_v1(sorted(theirs))})
    result = merge(copy.deepcopy(live) if live else {}, applied, schema, defs)
    others = set().union(*(paths_of(e["fieldsV1"]) for e in kept)) if kept else set()
    for path in sorted(previous - set(mine) - others, key=len, reverse=True):
        _remove(result, path)
    kept.append({"manager": manager, "operation": "Apply", "apiVersion": api_version,
                 "time": now, "fieldsType": "FieldsV1", "fieldsV1": fields_v1(sorted(mine))})
    result.setdefault("metadata", {})["managedFields"] = kept
    return result


def record_update(before: dict[str, Any] | None, after: dict[str, Any], manager: str,
                  schema: Schema, defs: dict[str, Schema], now: str, api_version: str
                  ) -> list[dict[str, Any]]:
    """managedFields after a non-apply write by `manager`: it takes the fields it changed."""
    entries = copy.deepcopy(((before or {}).get("metadata") or {}).get("managedFields") or [])
    old = leaves(before or {}, schema, defs)
    new = leaves(after, schema, defs)
    changed = {p for p, v in new.items() if old.get(p, object()) != v}
    if not changed:
        return entries
    out = []
    mine: set[Path] = set(changed)
    for entry in entries:
        theirs = paths_of(entry.get("fieldsV1") or {}) & set(new)
        if entry.get("manager") == manager and entry.get("operation") == "Update":
            mine |= theirs
            continue
        theirs -= changed
        if theirs:
            out.append({**entry, "fieldsV1": fields_v1(sorted(theirs))})
    out.append({"manager": manager, "operation": "Update", "apiVersion": api_version,
                "time": now, "fieldsType": "FieldsV1", "fieldsV1": fields_v1(sorted(mine))})
    return out
