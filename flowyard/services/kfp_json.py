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
    from flowyard.services.errors import InvalidArgument

    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"{field}: expected a string, got {type(value).__name__}")
    return value
