"""Small conversions every KFP-shaped response needs: RFC 3339 times, int64 as strings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_ts(value: Any, field: str) -> datetime | None:
    from flowyard.services.errors import InvalidArgument

    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"{field}: {value!r} is not an RFC 3339 time "
                              "(for example 2026-01-31T09:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def int64(value: int | None) -> str:
    return str(value or 0)


def parse_int(value: Any, field: str, minimum: int = 0) -> int:
    from flowyard.services.errors import InvalidArgument

    try:
        out = int(value)
        if isinstance(value, float) and value != out:
            raise ValueError
    except (TypeError, ValueError):
        raise InvalidArgument(f"{field}: expected an integer, got {value!r}") from None
    if out < minimum or out > 2**63 - 1:
        raise InvalidArgument(f"{field}: {out} is out of range (at least {minimum})")
    return out


def compact(obj: dict[str, Any]) -> dict[str, Any]:
    """Leave out unset fields, as protobuf JSON does."""
    return {k: v for k, v in obj.items() if v is not None}


def obj(value: Any, field: str) -> dict[str, Any]:
    """A JSON object field of a request body; anything else is the caller's mistake."""
    from flowyard.services.errors import InvalidArgument

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{field}: expected an object, got {type(value).__name__}")
    return value


def text(value: Any, field: str) -> str:
    """A string field. NUL is refused as KFP's databases refuse it, and so is what is not
    Unicode text (a lone surrogate)."""
    from flowyard.services.errors import InvalidArgument
    from flowyard.services.json_checks import check_text

    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"{field}: expected a string, got {type(value).__name__}")
    if "\x00" in value:
        raise InvalidArgument(f"{field}: must not contain NUL characters (\\u0000)")
    return check_text(value, field)


def display_name(value: Any, field: str, max_bytes: int, what: str) -> str:
    """A KFP name: any text but NUL, not blank, at most `max_bytes` bytes of UTF-8 (the
    limits KFP's API server checks). Never a path: '.' and '..' parts are refused, so a name
    like '../../etc' cannot climb out of wherever it may one day be written."""
    from flowyard.services.errors import InvalidArgument

    name = text(value, field).strip()
    if not name:
        raise InvalidArgument(f"{field}: {what} needs a name")
    if len(name.encode()) > max_bytes:
        raise InvalidArgument(f"{field}: at most {max_bytes} bytes (UTF-8), got "
                              f"{len(name.encode())}")
    if any(part in (".", "..") for part in name.replace("\\", "/").split("/")):
        raise InvalidArgument(f"{field}: {name!r}: '.' and '..' are not names")
    return name
