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
from flowyard.services.json_checks import check_document, check_text
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


INT64 = 2**63 - 1


def _int64(value: Any, key: str) -> int:
    try:
        out = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: float("inf")
        raise InvalidArgument(f"filter {key}: expected an integer, got {value!r}") from None
    if not -INT64 - 1 <= out <= INT64:
        raise InvalidArgument(f"filter {key}: {out} does not fit in 64 bits")
    return out


def _convert(value: Any, kind: str, key: str) -> Any:
    if not isinstance(value, str | int | float):
        raise InvalidArgument(f"filter {key}: expected a string or number, got "
                              f"{type(value).__name__}")
    if isinstance(value, str):
        check_text(value, f"filter {key}")
    if kind == "time":
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            from datetime import UTC, datetime

            seconds = _int64(value, key)
            try:
                return datetime.fromtimestamp(seconds, UTC)
            except (OverflowError, OSError, ValueError):
                raise InvalidArgument(f"filter {key}: {seconds} seconds since 1970 is not a "
                                      "time this server can represent") from None
        return parse_ts(value, f"filter {key}")
    if kind == "storage_state":
        if value not in ("AVAILABLE", "ARCHIVED"):
            raise InvalidArgument(f"filter {key}: expected AVAILABLE or ARCHIVED, got {value!r}")
        return value == "ARCHIVED"
    if kind == "bool":
        return value in (True, "true", "True", 1)
    if kind == "int":
        return _int64(value, key)
    return str(value)


def parse_filter(raw: str | None, fields: dict[str, Field]) -> list[Predicate]:
    if not raw:
        return []
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"filter: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise InvalidArgument("filter: nested too deep") from None
    check_document(doc, "filter", max_depth=8)
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
    bad = InvalidArgument("page_token: not a token this server returned")
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
        check_document(doc, "page_token", max_depth=2)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError, InvalidArgument):
        raise bad from None
    if not isinstance(doc, dict):
        raise bad
    offset = doc.get("offset")
    # The offset reaches SQL's OFFSET, a 64-bit integer in both databases.
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= INT64:
        raise InvalidArgument("page_token: its offset is not a row position this server "
                              "gave out")
    after = doc.get("after")
    if after is not None and not _valid_after(after):
        raise InvalidArgument("page_token: its 'after' is not the [kind, value, id] this "
                              "server gives out")
    if not isinstance(doc.get("sort", ""), str):
        raise bad
    return doc


def _valid_after(after: Any) -> bool:
    if not isinstance(after, list) or len(after) != 3:
        return False
    kind, value, pk = after
    if not isinstance(pk, str | int) or isinstance(pk, bool):
        return False
    if kind == "time":
        return isinstance(value, str)
    if kind != "value" or not isinstance(value, str | int | float | bool):
        return False
    return not isinstance(value, int) or -INT64 - 1 <= value <= INT64


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
            column_kind = next((f.kind for f in fields.values() if f.column == key), "str")
            # The value is compared with the sort column in SQL: it must be of its type.
            expected = {"time": str, "int": int, "bool": bool, "storage_state": bool}.get(
                column_kind, str)
            if (kind == "time") != (column_kind == "time") or not isinstance(value, expected) or (
                    expected is int and isinstance(value, bool)):
                raise InvalidArgument("page_token: it was made for another list or sort")
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
