"""KFP parameter types: parsing command-line values, checking Python values, and the string
form a placeholder puts on a command line."""

from __future__ import annotations

import json
import math
from typing import Any

from flowyard.pipelines.errors import PipelineError

TYPES = ("STRING", "NUMBER_INTEGER", "NUMBER_DOUBLE", "BOOLEAN", "LIST", "STRUCT",
         "TASK_FINAL_STATUS")
_EXPECTED = {
    "STRING": "a string",
    "NUMBER_INTEGER": "an integer",
    "NUMBER_DOUBLE": "a number",
    "BOOLEAN": "true or false",
    "LIST": "a JSON list",
    "STRUCT": "a JSON object",
    "TASK_FINAL_STATUS": "a task final status object",
}


def _fail(name: str, ptype: str, value: Any) -> PipelineError:
    return PipelineError(
        f"parameter {name!r}: expected {_EXPECTED.get(ptype, ptype)} ({ptype}), got {value!r}")


def parse_text(name: str, ptype: str, text: str) -> Any:
    """A value typed on the command line (`-p name=value`), read by its declared type."""
    if ptype in ("STRING", "", None):
        return text
    if ptype == "BOOLEAN":
        low = text.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise _fail(name, ptype, text)
    if ptype in ("NUMBER_INTEGER", "NUMBER_DOUBLE"):
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(name, ptype, text) from exc
        return check(name, ptype, value)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PipelineError(
            f"parameter {name!r}: expected {_EXPECTED[ptype]} ({ptype}); "
            f"{text!r} is not valid JSON: {exc.msg} at column {exc.colno}") from exc
    return check(name, ptype, value)


def check(name: str, ptype: str, value: Any) -> Any:
    """`value` normalised to `ptype` (1.0 for an integer parameter becomes 1), or an error."""
    if ptype in ("STRING", "", None):
        if isinstance(value, str):
            return value
        raise _fail(name, ptype, value)
    if ptype == "BOOLEAN":
        if isinstance(value, bool):
            return value
        raise _fail(name, ptype, value)
    if ptype == "NUMBER_INTEGER":
        if isinstance(value, bool):
            raise _fail(name, ptype, value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        raise _fail(name, ptype, value)
    if ptype == "NUMBER_DOUBLE":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) if isinstance(value, int) else value
        raise _fail(name, ptype, value)
    if ptype == "LIST":
        if isinstance(value, list | tuple):
            return list(value)
        raise _fail(name, ptype, value)
    if ptype in ("STRUCT", "TASK_FINAL_STATUS"):
        if isinstance(value, dict):
            return value
        raise _fail(name, ptype, value)
    raise PipelineError(f"parameter {name!r}: unknown parameterType {ptype!r}; "
                        f"expected one of {', '.join(TYPES)}")


def from_output_file(ptype: str, text: str) -> Any:
    """A value a container wrote to its output parameter file."""
    if ptype in ("STRING", "", None):
        return text
    if ptype == "BOOLEAN":
        return text.strip().lower() in ("true", "1")
    if ptype == "NUMBER_INTEGER":
        return int(float(text.strip()))
    if ptype == "NUMBER_DOUBLE":
        return float(text.strip())
    return json.loads(text)


def to_text(value: Any) -> str:
    """How a parameter appears on a command line: strings raw, everything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value)
