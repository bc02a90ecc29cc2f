"""How kubectl sums up a workload object's status in one cell (`kubectl get pods` STATUS and
RESTARTS, a Job's STATUS and COMPLETIONS, a Deployment's READY, a Service's PORT(S)), read
from the status exactly as Kubernetes writes it, so the dashboard and kubectl agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        out = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return out if out.tzinfo else out.replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """kubectl's short durations: 45s, 3m20s, 5h, 3d2h, 2y."""
    s = max(int(seconds), 0)
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 730:
        return f"{d}d"
    return f"{d // 365}y"


def age(timestamp: Any, now: datetime | None = None) -> str:
    at = parse_time(timestamp)
    if at is None:
        return "<unknown>"
    return human_duration(((now or datetime.now(UTC)) - at).total_seconds())


def _terminated_reason(term: dict[str, Any], prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def pod_status(pod: dict[str, Any]) -> str:
    """The STATUS column of `kubectl get pods` (kubectl's printPod, in the same order)."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    inits = status.get("initContainerStatuses") or []
    initializing = False
    for i, c in enumerate(inits):
        state = c.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode", 0) == 0:
            continue
        initializing = True
        if term:
            reason = _terminated_reason(term, "Init:")
        elif wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{len((pod.get('spec') or {}).get('initContainers') or inits)}"
        break
    if not initializing:
        has_running = False
        for c in reversed(status.get("containerStatuses") or []):
            state = c.get("state") or {}
            term, wait = state.get("terminated"), state.get("waiting")
            if wait and wait.get("reason"):
                reason = wait["reason"]
            elif term:
                reason = _terminated_reason(term)
            elif state.get("running") and c.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            ready = any(cond.get("type") == "Ready" and cond.get("status") == "True"
                        for cond in status.get("conditions") or [])
            reason = "Running" if ready else "NotReady"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return str(reason)


def pod_ready(pod: dict[str, Any]) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or statuses)
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def pod_restarts(pod: dict[str, Any], now: datetime | None = None) -> str:
    """RESTARTS as kubectl prints it: the count, and how long ago the last one was."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    count = sum(int(c.get("restartCount") or 0) for c in statuses)
    last = [parse_time(((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
            for c in statuses]
    latest = max((t for t in last if t is not None), default=None)
    if count and latest is not None:
        return f"{count} ({age(latest.isoformat(), now)} ago)"
    return str(count)


def container_state(c: dict[str, Any] | None) -> tuple[str, str]:
    """(state, detail) of one containerStatuses entry's `state` (or `lastState`):
    ("running", "since ..."), ("waiting", reason: message), ("terminated", reason, exit code)."""
    state = c or {}
    if "running" in state:
        return "running", f"since {(state['running'] or {}).get('startedAt', '')}".strip()
    if "waiting" in state:
        w = state["waiting"] or {}
        return "waiting", ": ".join(str(x) for x in (w.get("reason"), w.get("message")) if x)
    if "terminated" in state:
        t = state["terminated"] or {}
        parts = [str(t.get("reason") or ""), f"exit code {t.get('exitCode', 0)}"]
        if t.get("signal"):
            parts.append(f"signal {t['signal']}")
        if t.get("message"):
            parts.append(str(t["message"]))
        return "terminated", ", ".join(p for p in parts if p)
    return "", ""


def job_status(job: dict[str, Any]) -> str:
    """A Job's STATUS column (kubectl 1.32): Complete, Failed, Suspended, Running, ..."""
    status = job.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    for kind in ("Complete", "Failed", "FailureTarget", "SuccessCriteriaMet", "Suspended"):
        if conds.get(kind) == "True":
            return "Suspended" if kind == "Suspended" else kind
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    return "Running"


def job_completions(job: dict[str, Any]) -> str:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    succeeded = int(status.get("succeeded") or 0)
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = int(spec.get("parallelism") or 1)
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def job_duration(job: dict[str, Any], now: datetime | None = None) -> str:
    status = job.get("status") or {}
    start = parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = parse_time(status.get("completionTime")) or now or datetime.now(UTC)
    return human_duration((end - start).total_seconds())


def deployment_ready(dep: dict[str, Any]) -> str:
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    replicas = spec.get("replicas", 1)
    return f"{int(status.get('readyReplicas') or 0)}/{replicas}"


def service_ports(svc: dict[str, Any]) -> str:
    out = []
    for p in (svc.get("spec") or {}).get("ports") or []:
        port = f"{p.get('port')}"
        if p.get("nodePort"):
            port += f":{p['nodePort']}"
        out.append(f"{port}/{p.get('protocol') or 'TCP'}")
    return ",".join(out) or "<none>"


def command_line(container: dict[str, Any]) -> list[str]:
    """The argv a container runs: `command` then `args`, with `$(VAR)` replaced by the
    container's literal env values as the kubelet expands them (`$$(VAR)` stays `$(VAR)`;
    a reference to a variable it cannot resolve here stays as written)."""
    env = {e.get("name"): e.get("value") for e in container.get("env") or []
           if isinstance(e, dict) and isinstance(e.get("value"), str)}
    return [expand(str(a), env) for a in (container.get("command") or []) +
            (container.get("args") or [])]


def expand(text: str, env: dict[str, str]) -> str:
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("$(", i):
            end = text.find(")", i + 2)
            name = text[i + 2:end] if end >= 0 else ""
            if end >= 0 and name in env:
                out.append(env[name])
                i = end + 1
            elif end >= 0:
                out.append(text[i:end + 1])
                i = end + 1
            else:
                out.append(text[i:])
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
