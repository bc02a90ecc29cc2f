"""Binding run arguments to the pipeline's declared inputs, before anything runs."""

from __future__ import annotations

from typing import Any

from flowyard.pipelines.errors import PipelineError
from flowyard.pipelines.params import check, parse_text


def _defs(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    defs = spec.get("root", {}).get("inputDefinitions", {})
    return defs.get("parameters", {}), defs.get("artifacts", {})


def parse_cli(spec: dict[str, Any], pairs: list[str]) -> dict[str, Any]:
    """`NAME=VALUE` strings, each read by the declared type of NAME."""
    params, _ = _defs(spec)
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise PipelineError(f"-p {pair!r}: expected NAME=VALUE")
        if name not in params:
            raise PipelineError(_unknown(name, params))
        out[name] = parse_text(name, params[name].get("parameterType", "STRING"), text)
    return out


def _unknown(name: str, params: dict[str, Any]) -> str:
    known = ", ".join(f"{n} ({d.get('parameterType', '?')})" for n, d in params.items())
    return f"unknown pipeline parameter {name!r}; this pipeline takes: {known or 'no parameters'}"


def bind(spec: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    params, arts = _defs(spec)
    for name in arguments:
        if name not in params:
            raise PipelineError(_unknown(name, params))
    bound: dict[str, Any] = {}
    missing: list[str] = []
    for name, d in params.items():
        ptype = d.get("parameterType", "STRING")
        if arguments.get(name) is not None:
            bound[name] = check(name, ptype, arguments[name])
        elif "defaultValue" in d:
            try:
                bound[name] = check(name, ptype, d["defaultValue"])
            except ValueError:
                bound[name] = d["defaultValue"]
        elif not d.get("isOptional"):
            missing.append(f"{name!r} ({ptype})")
    if missing:
        # All of them at once: a user should not have to discover them one run at a time.
        plural = "s" if len(missing) > 1 else ""
        raise PipelineError(f"missing required pipeline parameter{plural} {', '.join(missing)}")
    for name, d in arts.items():
        if not d.get("isOptional"):
            raise PipelineError(f"pipeline input artifact {name!r} cannot be supplied to a local "
                                "run; give it a default with dsl.importer instead")
    return bound
