"""The JSONPath subset that printer columns use (`additionalPrinterColumns[].jsonPath`):
`.a.b`, `[n]`, `[-1:]`, `[*]`, `[?(@.k=='v')]`, `[?(@.k==true)]`."""

from __future__ import annotations

import contextlib
import re
from typing import Any

_TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+)|\[([^\]]*)\]")
_FILTER = re.compile(r"^\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*(.+)\)$")


def _literal(raw: str) -> Any:
    raw = raw.strip()
    if raw[:1] in "'\"" and raw[-1:] == raw[:1]:
        return raw[1:-1]
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return int(raw)
    except ValueError:
        return raw


def _dig(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _step(values: list[Any], name: str | None, index: str | None) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if name is not None:
            if isinstance(v, dict) and name in v:
                out.append(v[name])
            continue
        if not isinstance(v, list):
            continue
        assert index is not None
        idx = index.strip()
        if idx == "*":
            out.extend(v)
        elif (m := _FILTER.match(idx)) is not None:
            want = _literal(m.group(2))
            out.extend(item for item in v if _dig(item, m.group(1)) == want)
        elif ":" in idx:
            start, _, stop = idx.partition(":")
            out.extend(v[int(start) if start else None:int(stop) if stop else None])
        else:
            with contextlib.suppress(ValueError, IndexError):
                out.append(v[int(idx)])
    return out


def find(obj: Any, path: str) -> list[Any]:
    """Every value `path` selects in `obj` (empty when nothing matches)."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    values = [obj]
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            raise ValueError(f"jsonPath {path!r}: cannot read {path[pos:]!r}")
        values = _step(values, m.group(1), m.group(2))
        pos = m.end()
    return values
