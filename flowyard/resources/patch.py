"""The patch formats `kubectl patch` sends: JSON merge patch (RFC 7386; also used for
strategic merge, which on these schemaless objects means the same) and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
import re
from typing import Any

MAX_DEPTH = 100  # deeper than any Kubernetes object; Python's own recursion stops at ~1000
_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")  # RFC 6901: no sign, no leading zeros


def merge_patch(target: Any, patch: Any, _depth: int = 0) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if _depth >= MAX_DEPTH:
        raise ValueError(f"the merge patch is nested deeper than {MAX_DEPTH} levels")
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value, _depth + 1)
    return out


def _index(token: str, items: list[Any], path: str, *, end_ok: bool) -> int:
    """A JSON pointer token as an index into `items`: digits only, within the list (or one
    past its end, where the operation is an add)."""
    if not _INDEX.match(token) or len(token) > 18:
        raise ValueError(f"JSON patch path {path!r}: {token!r} is not an index of the "
                         f"{len(items)}-element list")
    idx = int(token)
    if idx > len(items) or (idx == len(items) and not end_ok):
        raise ValueError(f"JSON patch path {path!r}: index {idx} is past the end of the "
                         f"{len(items)}-element list")
    return idx


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
            cur = cur[_index(p, cur, path, end_ok=False)]
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
        if not isinstance(parent, dict | list):
            raise ValueError(f"JSON patch path {path!r}: {parts[-2] if len(parts) > 1 else ''!r}"
                             " holds a value, not an object or list")
        if kind == "test":
            if isinstance(parent, list):
                current = parent[_index(key, parent, path, end_ok=False)]
            else:
                current = parent.get(key)
            if current != op.get("value"):
                raise ValueError(f"JSON patch test failed at {path!r}")
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                add = kind == "add"
                idx = len(parent) if key == "-" and add else _index(key, parent, path,
                                                                     end_ok=add)
                if add:
                    parent.insert(idx, op.get("value"))
                else:
                    parent[idx] = op.get("value")
            else:
                if kind == "replace" and key not in parent:
                    raise ValueError(f"JSON patch replace: {path!r} does not exist")
                parent[key] = op.get("value")
        elif kind == "remove":
            if isinstance(parent, list):
                del parent[_index(key, parent, path, end_ok=False)]
            elif key in parent:
                del parent[key]
            else:
                raise ValueError(f"JSON patch remove: {path!r} does not exist")
        else:
            raise ValueError(f"JSON patch: unsupported op {kind!r} (add, remove, replace, test)")
    return doc
