"""KFP's list parameters (filter JSON, sort_by, page_token, page_size) turned into a store
Page, with errors that name the bad key or value."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowyard.services.errors import InvalidArgument
from flowyard.services.kfp_json import parse_ts
from flowyard.store.query import OPERATIONS, Page, Predicate

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Field:
    column: str  # the key in the store's column map
    kind: str = "str"  # str | time | bool | storage_state | int


def _snake(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key)


def _value(pred: dict[str, Any]) -> tuple[Any, bool]:
    """The predicate's value and whether it is a list (for IN)."""
    for key in ("string_value", "int_value", "long_value", "timestamp_value"):
        if key in pred:
            return pred[key], False
    for key in ("string_values", "int_values", "long_values"):
        if key in pred:
            values = pred[key]
            if isinstance(values, dict):
                values = values.get("values", [])
            if not isinstance(values, list):
                raise InvalidArgument(f"filter: {key} must hold a list of values")
            return values, True
    raise InvalidArgument(f"filter: predicate on {pred.get('key')!r} has no value "
                          "(string_value, int_value, long_value, timestamp_value or *_values)")


def _convert(value: Any, kind: str, key: str) -> Any:
    if kind == "time":
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            from datetime import UTC, datetime

            return datetime.fromtimestamp(int(value), UTC)
        return parse_ts(value, f"filter {key}")
    if kind == "storage_state":
        if value not in ("AVAILABLE", "ARCHIVED"):
            raise InvalidArgument(f"filter {key}: expected AVAILABLE or ARCHIVED, got {value!r}")
        return value == "ARCHIVED"
    if kind == "bool":
        return value in (True, "true", "True", 1)
    if kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise InvalidArgument(f"filter {key}: expected an integer, got {value!r}") from None
    return str(value)


def parse_filter(raw: str | None, fields: dict[str, Field]) -> list[Predicate]:
    if not raw:
        return []
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"filter: not valid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("predicates", []), list):
        raise InvalidArgument('filter: expected {"predicates": [...]}')
    out = []
    for raw_pred in doc.get("predicates", []):
        if not isinstance(raw_pred, dict):
            raise InvalidArgument("filter: each predicate must be an object")
        pred = {_snake(k): v for k, v in raw_pred.items()}
        key = _snake(str(pred.get("key", "")))
        if key not in fields:
            raise InvalidArgument(f"filter: cannot filter on {key!r}; keys: "
                                  f"{', '.join(sorted(fields))}")
        op = pred.get("op", pred.get("operation"))
        if isinstance(op, int) and not isinstance(op, bool) and 1 <= op <= len(OPERATIONS):
            op = OPERATIONS[op - 1]
        if op not in OPERATIONS:
            raise InvalidArgument(f"filter: unknown operation {op!r} on {key!r}; one of "
                                  f"{', '.join(OPERATIONS)}")
        value, many = _value(pred)
        field = fields[key]
        if op == "IN":
            items = value if many else [value]
            out.append(Predicate(field.column, op, [_convert(v, field.kind, key) for v in items]))
        else:
            if many:
                raise InvalidArgument(f"filter: {op} on {key!r} takes one value; use IN for lists")
            out.append(Predicate(field.column, op, _convert(value, field.kind, key)))
    return out


def parse_sort(raw: str | None, fields: dict[str, Field], default: str = "created_at") -> tuple[
        str, bool]:
    if not raw:
        return fields[default].column, True
    parts = raw.split()
    key = _snake(parts[0])
    if key not in fields or len(parts) > 2 or (len(parts) == 2 and parts[1] not in (
            "asc", "desc", "des")):
        raise InvalidArgument(f"sort_by: {raw!r}: expected 'FIELD' or 'FIELD desc' with FIELD "
                              f"one of {', '.join(sorted(fields))}")
    return fields[key].column, len(parts) == 2 and parts[1] != "asc"


def _encode_token(offset: int, sort: str = "", after: list[Any] | None = None) -> str:
    doc: dict[str, Any] = {"offset": offset}
    if after is not None:
        doc.update(sort=sort, after=after)
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def _decode_token(token: str) -> dict[str, Any]:
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = doc["offset"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError
        after = doc.get("after")
        if after is not None and (not isinstance(after, list) or len(after) != 3):
            raise ValueError
        return doc
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError,
            AttributeError):
        raise InvalidArgument("page_token: not a token this server returned") from None


def _sort_id(key: str, desc: bool) -> str:
    return f"{key} {'desc' if desc else 'asc'}"


def page(fields: dict[str, Field], *, filter: str | None = None, sort_by: str | None = None,
         page_token: str | None = None, page_size: int | str | None = None,
         default_sort: str = "created_at") -> Page:
    try:
        size = int(page_size) if page_size not in (None, "") else 0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidArgument(f"page_size: expected an integer, got {page_size!r}") from None
    if size < 0:
        raise InvalidArgument("page_size: must not be negative")
    size = min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    key, desc = parse_sort(sort_by, fields, default_sort)
    out = Page(parse_filter(filter, fields), key, desc, 0, size)
    if page_token:
        doc = _decode_token(page_token)
        out.offset = doc["offset"]
        after = doc.get("after")
        # A token carries its sort: used with another sort, only its offset still means much.
        if after is not None and doc.get("sort") == _sort_id(key, desc):
            kind, value, pk = after
            try:
                out.after = (datetime.fromisoformat(value) if kind == "time" else value, pk)
            except (TypeError, ValueError):
                raise InvalidArgument("page_token: not a token this server returned") from None
    return out


def next_token(p: Page, total: int, last: Any = None, columns: dict[str, Any] | None = None
               ) -> str:
    """The token for the page after `p`; with the page's `last` row, a keyset token."""
    end = p.offset + p.limit
    if end >= total:
        return ""
    if last is not None and columns is not None:
        value = getattr(last, columns[p.sort_key].key)
        pk = getattr(last, type(last).__mapper__.primary_key[0].key)
        if isinstance(value, datetime):
            return _encode_token(end, _sort_id(p.sort_key, p.desc), ["time", value.isoformat(), pk])
        if value is not None and isinstance(value, str | int | float | bool):
            return _encode_token(end, _sort_id(p.sort_key, p.desc), ["value", value, pk])
    return _encode_token(end)


def token(p: Page, total: int, rows: list[Any], columns: dict[str, Any]) -> str | None:
    """next_page_token for a list response (None when this was the last page)."""
    return next_token(p, total, rows[-1] if rows else None, columns) or None
