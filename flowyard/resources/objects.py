"""Validate an object against its kind, reporting every bad field by its path."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from flowyard.resources.kinds import KindInfo
from flowyard.resources.meta import KubeObject


class ObjectError(ValueError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems))


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problems(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        out.append((_path(prefix + tuple(err["loc"])), msg))
    return out


def validate(obj: Any, info: KindInfo | None = None) -> dict[str, Any]:
    """Check the envelope and the known spec; the object itself is kept as given, so fields
    Flowyard does not model round-trip unchanged."""
    if not isinstance(obj, dict):
        raise ObjectError([("", f"expected an object (a mapping), got {type(obj).__name__}")])
    try:
        model = KubeObject.model_validate(obj)
    except ValidationError as exc:
        raise ObjectError(_problems(exc)) from None
    if info is not None and info.spec is not None:
        if model.spec is None:
            raise ObjectError([("spec", f"a {info.kind} needs a spec")])
        try:
            info.spec.model_validate(model.spec)
        except ValidationError as exc:
            raise ObjectError(_problems(exc, ("spec",))) from None
    return obj
