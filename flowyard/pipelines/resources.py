"""A container's resource requests, read the way Kubernetes would read them."""

from __future__ import annotations

from typing import Any

from flowyard.executors.base import Resources
from flowyard.pipelines.errors import TaskError

_SUFFIX = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "m": 1e-3}


def quantity(text: Any, field: str) -> float:
    s = str(text).strip()
    for suffix in sorted(_SUFFIX, key=len, reverse=True):
        if s.endswith(suffix):
            number = s[: -len(suffix)]
            scale = _SUFFIX[suffix]
            break
    else:
        number, scale = s, 1.0
    try:
        return float(number) * scale
    except ValueError as exc:
        raise TaskError(f"resources.{field}: {text!r} is not a Kubernetes quantity "
                        "(expected e.g. 500m, 2, 4Gi)") from exc


def requested_resources(spec: dict[str, Any]) -> Resources:
    """Requests if given, else limits (Kubernetes defaults a request to its limit), else one
    CPU so that independent tasks fan out to the machine's cores and no further."""
    cpu_text = spec.get("resourceCpuRequest") or spec.get("resourceCpuLimit")
    cpu = quantity(cpu_text, "cpu") if cpu_text else float(
        spec.get("cpuRequest") or spec.get("cpuLimit") or 1.0)
    mem_text = spec.get("resourceMemoryRequest") or spec.get("resourceMemoryLimit")
    memory = quantity(mem_text, "memory") if mem_text else float(
        spec.get("memoryRequest") or spec.get("memoryLimit") or 0) * 1e9
    acc = spec.get("accelerator") or {}
    gpus = int(quantity(acc.get("resourceCount") or acc.get("count") or 0, "accelerator.count"))
    return Resources(cpu=cpu, memory=int(memory), gpu=gpus)
