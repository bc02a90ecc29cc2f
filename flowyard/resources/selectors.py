"""Kubernetes label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`."""

from __future__ import annotations

import re
from collections.abc import Callable

Matcher = Callable[[dict[str, str]], bool]
_SET = re.compile(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$")


def _split(selector: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def _term(term: str) -> Matcher:
    m = _SET.match(term)
    if m:
        key, op, raw = m.groups()
        values = {v.strip() for v in raw.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in term:
            key, _, value = (s.strip() for s in term.partition(op))
            if not key:
                break
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if term.startswith("!") and re.fullmatch(r"[\w./-]+", term[1:].strip()):
        key = term[1:].strip()
        return lambda labels: key not in labels
    if re.fullmatch(r"[\w./-]+", term):
        return lambda labels: term in labels
    raise ValueError(f"labelSelector: cannot read {term!r} (expected key=value, key!=value, "
                     "key in (a,b), key notin (a), key or !key)")


def parse(selector: str | None) -> Matcher:
    if not selector:
        return lambda labels: True
    terms = [_term(t) for t in _split(selector)]
    return lambda labels: all(t(labels) for t in terms)


def match_selector(selector: dict[str, object] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector object (matchLabels, matchExpressions) against labels. An empty
    selector matches everything, as in Kubernetes' apps/batch kinds."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():  # type: ignore[union-attr]
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:  # type: ignore[union-attr]
        key, op = expr.get("key"), expr.get("operator")
        values = set(expr.get("values") or [])
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True
