"""KFP's CEL expressions (trigger conditions and parameter selectors), evaluated by cel-python
rather than by string tricks, so any valid CEL the compiler emits behaves as on Kubeflow."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import celpy

from flowyard.pipelines.errors import TaskError


def _parse_json(text: Any) -> Any:
    return celpy.json_to_cel(json.loads(str(text)))


_FUNCTIONS = {"parseJson": _parse_json}


@lru_cache(maxsize=512)
def _program(expr: str) -> Any:
    env = celpy.Environment()
    try:
        return env.program(env.compile(expr), functions=_FUNCTIONS)
    except celpy.CELParseError as exc:
        raise TaskError(f"invalid CEL expression {expr!r}: {exc}") from exc


def to_python(value: Any) -> Any:
    if isinstance(value, celpy.celtypes.BoolType):
        return bool(value)
    if isinstance(value, celpy.celtypes.IntType | celpy.celtypes.UintType):
        return int(value)
    if isinstance(value, celpy.celtypes.DoubleType):
        return float(value)
    if isinstance(value, celpy.celtypes.StringType):
        return str(value)
    if isinstance(value, celpy.celtypes.MapType):
        return {to_python(k): to_python(v) for k, v in value.items()}
    if isinstance(value, celpy.celtypes.ListType):
        return [to_python(v) for v in value]
    return value


def evaluate(expr: str, activation: dict[str, Any]) -> Any:
    try:
        result = _program(expr).evaluate({k: celpy.json_to_cel(v) for k, v in activation.items()})
    except celpy.CELEvalError as exc:
        raise TaskError(f"CEL expression {expr!r} failed: {exc}") from exc
    if isinstance(result, celpy.CELEvalError):
        raise TaskError(f"CEL expression {expr!r} failed: {result}")
    return to_python(result)


def condition_holds(expr: str, parameters: dict[str, Any]) -> bool:
    result = evaluate(expr, {"inputs": {"parameter_values": parameters}})
    if not isinstance(result, bool):
        raise TaskError(f"condition {expr!r} gave {result!r}, expected true or false")
    return result


def select(expr: str, value: Any) -> Any:
    """A parameterExpressionSelector applied to one parameter value."""
    text = value if isinstance(value, str) else json.dumps(value)
    return evaluate(expr, {"string_value": text})
