"""What a JSON document from a client must be before anything stores or walks it: text that
is valid Unicode (JSON's \\ud800 escape decodes to a lone surrogate no database or encoder
takes) and nesting no deeper than a fixed bound (code that walks it recurses)."""

from __future__ import annotations

from typing import Any

from flowyard.services.errors import InvalidArgument

MAX_DEPTH = 100  # pipeline specs nest about 15 deep; Kubernetes objects about 20


def _bad_text(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"not valid Unicode: a lone surrogate {value[exc.start]!r} at character "
                f"{exc.start} (JSON \\uD800-\\uDFFF escapes must come in pairs)")
    return None


def check_document(doc: Any, field: str = "body", max_depth: int = MAX_DEPTH) -> None:
    """Raise InvalidArgument naming the first member of `doc` that is too deep or is not
    valid text (keys included). Walks without recursion, so any depth is safe to check."""
    stack: list[tuple[Any, str, int]] = [(doc, field, 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            why = _bad_text(value)
            if why:
                raise InvalidArgument(f"{where}: {why}")
        elif isinstance(value, dict | list):
            if depth >= max_depth:
                raise InvalidArgument(f"{where}: nested deeper than {max_depth} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    why = _bad_text(key)
                    if why:
                        raise InvalidArgument(f"{where}: a key is {why}")
                stack.append((item, f"{where}.{key}" if isinstance(value, dict)
                              else f"{where}[{key}]", depth + 1))


def check_text(value: str, field: str) -> str:
    why = _bad_text(value)
    if why:
        raise InvalidArgument(f"{field}: {why}")
    return value
