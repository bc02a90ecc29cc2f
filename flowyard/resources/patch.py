"""The patch formats `kubectl patch` sends: JSON merge patch (RFC 7386; also used for
strategic merge, which on these schemaless objects means the same) and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"JSON patch path {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise ValueError(f"JSON patch path {path!r}: no element {p!r}") from None
        elif isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            raise ValueError(f"JSON patch path {path!r}: no member {p!r}")
    return cur, parts[-1]


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise ValueError("a JSON patch is a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ValueError("each JSON patch operation needs 'op' and 'path'")
        path, kind = str(op["path"]), op["op"]
        parts = _pointer(path)
        if not parts:
            raise ValueError("JSON patch: replacing the whole object is not allowed")
        parent, key = _parent(doc, parts, path)
        if kind == "test":
            current = parent[int(key)] if isinstance(parent, list) else parent.get(key)
            if current != op.get("value"):
                raise ValueError(f"JSON patch test failed at {path!r}")
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                idx = len(parent) if key == "-" else int(key)
                if kind == "add":
                    parent.insert(idx, op.get("value"))
                else:
                    parent[idx] = op.get("value")
            else:
                if kind == "replace" and key not in parent:
                    raise ValueError(f"JSON patch replace: {path!r} does not exist")
                parent[key] = op.get("value")
        elif kind == "remove":
            try:
                del parent[int(key) if isinstance(parent, list) else key]
            except (KeyError, IndexError, ValueError):
                raise ValueError(f"JSON patch remove: {path!r} does not exist") from None
        else:
            raise ValueError(f"JSON patch: unsupported op {kind!r} (add, remove, replace, test)")
    return doc
