"""The scheduler's part of the kubelet: a pod's requests as Kubernetes sums them, and whether
they fit what the executor can grant next to the pods already bound to this machine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowyard.executors.base import Executor, Resources
from flowyard.resources import quantity

GPU = "nvidia.com/gpu"
NODE = "flowyard"  # spec.nodeName of every pod: one machine, one node


@dataclass(frozen=True)
class Requests:
    cpu: float = 0.0
    memory: int = 0
    gpu: int = 0

    def __add__(self, other: Requests) -> Requests:
        return Requests(self.cpu + other.cpu, self.memory + other.memory, self.gpu + other.gpu)


def container_requests(c: dict[str, Any]) -> Requests:
    res = c.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    # A limit without a request means request = limit (Kubernetes defaulting).
    merged = {**lim, **req}
    return Requests(quantity.cpu(merged.get("cpu", 0)),
                    quantity.bytes_(merged.get("memory", 0)),
                    int(quantity.parse(merged.get(GPU, 0))))


def pod_requests(spec: dict[str, Any]) -> Requests:
    """max(each init container, sidecars + containers): what Kubernetes schedules by."""
    total = Requests()
    sidecars = Requests()
    init_peak = Requests()
    for c in spec.get("initContainers") or []:
        r = container_requests(c)
        if c.get("restartPolicy") == "Always":
            sidecars = sidecars + r
        else:
            run = sidecars + r
            init_peak = Requests(max(init_peak.cpu, run.cpu), max(init_peak.memory, run.memory),
                                 max(init_peak.gpu, run.gpu))
    for c in spec.get("containers") or []:
        total = total + container_requests(c)
    total = total + sidecars
    return Requests(max(total.cpu, init_peak.cpu), max(total.memory, init_peak.memory),
                    max(total.gpu, init_peak.gpu))


def capacity(executor: Executor) -> Requests:
    """What the executor could ever grant (its clamp of an impossible request)."""
    most, _ = executor.clamp(Resources(cpu=1e9, memory=2**62, gpu=1 << 20))
    return Requests(most.cpu, most.memory, most.gpu)


def bound(pod: dict[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def insufficient(want: Requests, cap: Requests, used: Requests) -> list[str]:
    """Kubernetes' names of the resources that do not fit, as kube-scheduler reports them."""
    out = []
    if want.cpu and want.cpu > cap.cpu - used.cpu + 1e-9:
        out.append("cpu")
    if want.memory and want.memory > cap.memory - used.memory:
        out.append("memory")
    if want.gpu and want.gpu > cap.gpu - used.gpu:
        out.append(GPU)
    return out


def unschedulable_message(missing: list[str]) -> str:
    reasons = ", ".join(f"1 Insufficient {name}" for name in missing)
    return (f"0/1 nodes are available: {reasons}. preemption: 0/1 nodes are available: "
            "1 No preemption victims found for incoming pod.")
