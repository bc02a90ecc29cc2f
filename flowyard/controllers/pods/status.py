"""Pod status as the kubelet writes it: phase, conditions with lastTransitionTime, container
statuses with state/lastState, and the QoS class."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flowyard.executors.base import Exit

CONDITION_ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                   "PodScheduled")


def rfc3339(epoch: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def set_condition(status: dict[str, Any], type_: str, value: bool, reason: str | None = None,
                  message: str | None = None) -> None:
    """Set a condition; lastTransitionTime moves only when its status changes."""
    conds = status.setdefault("conditions", [])
    want = "True" if value else "False"
    current = next((c for c in conds if c["type"] == type_), None)
    if current is None:
        current = {"type": type_}
        conds.append(current)
    if current.get("status") != want:
        current["lastTransitionTime"] = rfc3339()
    current["status"] = want
    current["lastProbeTime"] = None
    for key, val in (("reason", reason), ("message", message)):
        if val:
            current[key] = val
        else:
            current.pop(key, None)
    conds.sort(key=lambda c: CONDITION_ORDER.index(c["type"])
               if c["type"] in CONDITION_ORDER else len(CONDITION_ORDER))


def condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c["type"] == type_), None)


def terminated(exit_: Exit, container_id: str, reason: str | None = None,
               message: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"exitCode": exit_.code, "reason": reason or exit_.reason,
                           "startedAt": rfc3339(exit_.started_at) if exit_.started_at else None,
                           "finishedAt": rfc3339(exit_.finished_at or time.time()),
                           "containerID": container_id}
    if exit_.signal:
        out["signal"] = exit_.signal
    if message:
        out["message"] = message
    return {"terminated": out}


def waiting(reason: str, message: str | None = None) -> dict[str, Any]:
    out = {"reason": reason}
    if message:
        out["message"] = message
    return {"waiting": out}


def qos_class(spec: dict[str, Any]) -> str:
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    any_set, guaranteed = False, True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in lim or str(req.get(name, lim[name])) != str(lim[name]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def phase(policy: str, init_done: bool, init_failed: bool,
          statuses: list[dict[str, Any]]) -> str:
    """Kubernetes' pod phase from the state of its (non-sidecar) containers."""
    if init_failed:
        return "Failed"
    if not init_done:
        return "Pending"
    running = stopped = succeeded = failed = waiting_fresh = 0
    for st in statuses:
        state = st.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode") == 0:
                succeeded += 1
            else:
                failed += 1
        elif st.get("lastState", {}).get("terminated"):
            stopped += 1  # waiting to restart (CrashLoopBackOff): it ran before
            if st["lastState"]["terminated"].get("exitCode") == 0:
                succeeded += 1
            else:
                failed += 1
        else:
            waiting_fresh += 1
    if waiting_fresh:
        return "Pending"
    if running:
        return "Running"
    if policy == "Always":
        return "Running"
    if policy == "OnFailure" and failed:
        return "Running"
    return "Failed" if failed else "Succeeded"
