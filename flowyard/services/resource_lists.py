"""Listing objects as the Kubernetes API does: label and field selectors, and `limit` /
`continue` paging (the token carries the list's resourceVersion and the last key)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from flowyard.resources import fields, selectors
from flowyard.services.context import Services
from flowyard.services.errors import InvalidArgument
from flowyard.services.namespaces import ensure_namespaces
from flowyard.services.resources import Ref, info_for
from flowyard.store.resources import ResourceStore
from flowyard.store.resources import to_object as render


def matcher(svc: Services, ref: Ref, label_selector: str | None, field_selector: str | None
            ) -> Callable[[dict[str, Any]], bool]:
    """One predicate over rendered objects for both selectors (a bad one is a 400)."""
    info = info_for(ref, svc=svc)
    try:
        by_labels = selectors.parse(label_selector)
        by_fields = fields.parse(field_selector, info.kind)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None

    def match(obj: dict[str, Any]) -> bool:
        return by_labels((obj.get("metadata") or {}).get("labels") or {}) and by_fields(obj)
    return match


def _token(rv: int, last: tuple[str, str]) -> str:
    raw = json.dumps({"rv": rv, "after": list(last)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _untoken(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(data["rv"]), (str(data["after"][0]), str(data["after"][1]))
    except (ValueError, KeyError, IndexError, TypeError):
        raise InvalidArgument("continue: not a token this server gave out") from None


def list_(svc: Services, ref: Ref, label_selector: str | None = None,
          all_namespaces: bool = False, field_selector: str | None = None,
          limit: int | None = None, continue_: str | None = None) -> dict[str, Any]:
    match = matcher(svc, ref, label_selector, field_selector)
    if limit is not None and limit < 0:
        raise InvalidArgument("limit: must not be negative")
    rs = ResourceStore(svc.store)
    version = rs.current_version()
    if ref.plural == "namespaces" and not ref.group:
        ensure_namespaces(svc)
    rows = rs.list(ref.group, ref.plural, None if all_namespaces else ref.namespace)
    info = info_for(ref, svc=svc)
    items = [o for o in (render(r) for r in rows) if match(o)]
    meta: dict[str, Any] = {"resourceVersion": str(version)}
    if continue_:
        _, after = _untoken(continue_)
        items = [o for o in items if (o["metadata"].get("namespace", ""),
                                      o["metadata"]["name"]) > after]
    if limit and len(items) > limit:
        items = items[:limit]
        last = items[-1]["metadata"]
        meta["continue"] = _token(version, (last.get("namespace", ""), last["name"]))
    return {"apiVersion": info.api_version, "kind": f"{info.kind}List", "metadata": meta,
            "items": items}
