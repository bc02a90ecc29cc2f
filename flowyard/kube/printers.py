"""kubectl's columns for Kubernetes' own kinds, computed as the API server's printers compute
them (`kubectl get pods` shows NAME READY STATUS RESTARTS AGE; `-o wide` adds the priority-1
columns). Each printer returns the column definitions and a function from object to cells."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, int]  # name, type, priority (1 = only with -o wide)
Cells = Callable[[Obj], list[Any]]


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """Kubernetes' duration.HumanDuration: `42s`, `3m12s`, `5h`, `3d4h`, `2y`."""
    if seconds < -1:
        return "<invalid>"
    s = max(int(seconds), 0)
    m, h = s // 60, s // 3600
    if s < 120:
        return f"{s}s"
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        return f"{h // 24 // 365}y{(h // 24) % 365}d"
    return f"{h // 24 // 365}y"


def age(value: Any) -> str:
    when = parse_time(value)
    if when is None:
        return "<unknown>"
    return human_duration((datetime.now(UTC) - when).total_seconds())


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _created(obj: Obj) -> str:
    return age(_meta(obj).get("creationTimestamp"))


def _containers(template: Obj) -> tuple[str, str]:
    cs = (template.get("spec") or {}).get("containers") or []
    return (",".join(str(c.get("name", "")) for c in cs),
            ",".join(str(c.get("image", "")) for c in cs))


def _selector(sel: Any) -> str:
    if not isinstance(sel, dict):
        return "<none>"
    labels = sel.get("matchLabels", sel if "matchExpressions" not in sel else {})
    parts = [f"{k}={v}" for k, v in sorted((labels or {}).items()) if isinstance(v, str)]
    for e in sel.get("matchExpressions") or []:
        op, key, vals = e.get("operator", ""), e.get("key", ""), e.get("values") or []
        parts.append({"In": f"{key} in ({','.join(vals)})",
                      "NotIn": f"{key} notin ({','.join(vals)})",
                      "Exists": key, "DoesNotExist": f"!{key}"}.get(op, key))
    return ",".join(parts) or "<none>"


def _pod_reason(pod: Obj) -> tuple[str, int, int, int, str]:
    """STATUS, ready, total, restarts and when the last restart happened, as `kubectl get
    pods` prints them (init containers first, then containers, then Terminating)."""
    spec, status = _spec(pod), _status(pod)
    reason = status.get("reason") or status.get("phase") or "Pending"
    total = len(spec.get("containers") or [])
    restarts, ready, last = 0, 0, None
    init_total = len(spec.get("initContainers") or [])
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        state = cs.get("state") or {}
        term = state.get("terminated")
        if term and int(term.get("exitCode", 0)) == 0:
            continue
        if term:
            reason = "Init:" + (term.get("reason") or (f"Signal:{term['signal']}" if term.get(
                "signal") else f"ExitCode:{term.get('exitCode')}"))
        elif (state.get("waiting") or {}).get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = f"Init:{i}/{init_total}"
        initializing = True
        break
    if not initializing:
        running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            finished = parse_time(((cs.get("lastState") or {}).get("terminated") or {})
                                  .get("finishedAt"))
            if finished and (last is None or finished > last):
                last = finished
            state = cs.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated"):
                term = state["terminated"]
                reason = term.get("reason") or (f"Signal:{term['signal']}" if term.get("signal")
                                                else f"ExitCode:{term.get('exitCode')}")
            elif state.get("running") and cs.get("ready"):
                ready += 1
                running = True
            elif state.get("running"):
                running = True
        if reason == "Completed" and running:
            reason = "Running" if any(c.get("type") == "Ready" and c.get("status") == "True"
                                      for c in status.get("conditions") or []) else "NotReady"
    if _meta(pod).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    ago = human_duration((datetime.now(UTC) - last).total_seconds()) if last else ""
    return reason, ready, total, restarts, ago


def _pod(pod: Obj) -> list[Any]:
    reason, ready, total, restarts, ago = _pod_reason(pod)
    gates = _spec(pod).get("readinessGates") or []
    conds = {c.get("type"): c.get("status") for c in _status(pod).get("conditions") or []}
    gate_cell = (f"{sum(conds.get(g.get('conditionType')) == 'True' for g in gates)}/"
                 f"{len(gates)}") if gates else "<none>"
    return [_meta(pod).get("name"), f"{ready}/{total}", reason,
            f"{restarts} ({ago} ago)" if ago else str(restarts), _created(pod),
            _status(pod).get("podIP") or "<none>", _spec(pod).get("nodeName") or "<none>",
            _status(pod).get("nominatedNodeName") or "<none>", gate_cell]


def _ports(svc: Obj) -> str:
    out = []
    for p in _spec(svc).get("ports") or []:
        s = f"{p.get('port')}"
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        out.append(f"{s}/{p.get('protocol') or 'TCP'}")
    return ",".join(out) or "<none>"


def _service(svc: Obj) -> list[Any]:
    spec = _spec(svc)
    kind = spec.get("type") or "ClusterIP"
    ext = ",".join(spec.get("externalIPs") or []) or (
        spec.get("externalName") if kind == "ExternalName" else "<none>")
    ingress = (_status(svc).get("loadBalancer") or {}).get("ingress") or []
    if kind == "LoadBalancer":
        ext = ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress) or "<pending>"
    return [_meta(svc).get("name"), kind, spec.get("clusterIP") or "<none>", ext or "<none>",
            _ports(svc), _created(svc), _selector(spec.get("selector"))]


def _deployment(d: Obj) -> list[Any]:
    spec, st = _spec(d), _status(d)
    names, images = _containers(spec.get("template") or {})
    return [_meta(d).get("name"), f"{st.get('readyReplicas') or 0}/{spec.get('replicas', 1)}",
            st.get("updatedReplicas") or 0, st.get("availableReplicas") or 0, _created(d),
            names, images, _selector(spec.get("selector"))]


def _replicaset(r: Obj) -> list[Any]:
    spec, st = _spec(r), _status(r)
    names, images = _containers(spec.get("template") or {})
    return [_meta(r).get("name"), spec.get("replicas", 1), st.get("replicas") or 0,
            st.get("readyReplicas") or 0, _created(r), names, images,
            _selector(spec.get("selector"))]


def _statefulset(r: Obj) -> list[Any]:
    spec, st = _spec(r), _status(r)
    names, images = _containers(spec.get("template") or {})
    return [_meta(r).get("name"), f"{st.get('readyReplicas') or 0}/{spec.get('replicas', 1)}",
            _created(r), names, images]


def _job_status(job: Obj) -> str:
    conds = {c.get("type"): c.get("status") for c in _status(job).get("conditions") or []}
    for cond, shown in (("Complete", "Complete"), ("Failed", "Failed"),
                        ("FailureTarget", "FailureTarget"), ("SuccessCriteriaMet",
                                                             "SuccessCriteriaMet"),
                        ("Suspended", "Suspended")):
        if conds.get(cond) == "True":
            return shown
    return "Terminating" if _meta(job).get("deletionTimestamp") else "Running"


def _job(job: Obj) -> list[Any]:
    spec, st = _spec(job), _status(job)
    completions = spec.get("completions")
    shown = (f"{st.get('succeeded') or 0}/{completions}" if completions is not None else
             f"{st.get('succeeded') or 0}/1 of {spec.get('parallelism', 1)}"
             if spec.get("parallelism", 1) > 1 else f"{st.get('succeeded') or 0}/1")
    start, end = parse_time(st.get("startTime")), parse_time(st.get("completionTime"))
    duration = ""
    if start:
        duration = human_duration(((end or datetime.now(UTC)) - start).total_seconds())
    names, images = _containers(spec.get("template") or {})
    return [_meta(job).get("name"), _job_status(job), shown, duration, _created(job), names,
            images, _selector(spec.get("selector"))]


def _cronjob(cj: Obj) -> list[Any]:
    spec, st = _spec(cj), _status(cj)
    template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    names, images = _containers(template)
    last = st.get("lastScheduleTime")
    return [_meta(cj).get("name"), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            str(bool(spec.get("suspend"))), len(st.get("active") or []),
            age(last) if last else "<none>", _created(cj), names, images, "<none>"]


def _endpoints(ep: Obj) -> list[Any]:
    out = []
    for sub in ep.get("subsets") or []:
        ports = [p.get("port") for p in sub.get("ports") or []] or [None]
        for a in sub.get("addresses") or []:
            out.extend(f"{a.get('ip')}:{p}" if p else str(a.get("ip")) for p in ports)
    shown = ",".join(out[:3]) + (f" + {len(out) - 3} more..." if len(out) > 3 else "")
    return [_meta(ep).get("name"), shown or "<none>", _created(ep)]


def _endpointslice(es: Obj) -> list[Any]:
    ports = ",".join(str(p.get("port")) for p in es.get("ports") or []) or "<unset>"
    addrs = [a for e in es.get("endpoints") or [] for a in e.get("addresses") or []]
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [_meta(es).get("name"), es.get("addressType", ""), ports, shown or "<unset>",
            _created(es)]


def _pvc(c: Obj) -> list[Any]:
    spec, st = _spec(c), _status(c)
    capacity = (st.get("capacity") or {}).get("storage", "")
    modes = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
             "ReadWriteOncePod": "RWOP"}
    shown = ",".join(modes.get(m, m) for m in st.get("accessModes") or spec.get(
        "accessModes") or [])
    return [_meta(c).get("name"), st.get("phase") or "Pending", spec.get("volumeName", ""),
            capacity, shown, spec.get("storageClassName") or "<unset>",
            spec.get("volumeAttributesClassName") or "<unset>", _created(c),
            spec.get("volumeMode") or "Filesystem"]


def _event_object(ev: Obj) -> str:
    inv = ev.get("involvedObject") or ev.get("regarding") or {}
    return f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}"


def _event(ev: Obj) -> list[Any]:
    last = ev.get("lastTimestamp") or ev.get("eventTime") or _meta(ev).get("creationTimestamp")
    first = ev.get("firstTimestamp") or ev.get("eventTime")
    src = ev.get("source") or {}
    return [age(last), ev.get("type", ""), ev.get("reason", ""), _event_object(ev),
            ev.get("message") or ev.get("note") or "",
            (ev.get("involvedObject") or {}).get("fieldPath", ""),
            ",".join(x for x in (src.get("component"), src.get("host")) if x),
            age(first), ev.get("count") or 1, _meta(ev).get("name")]


def _simple(*extra: tuple[Column, Callable[[Obj], Any]]) -> tuple[list[Column], Cells]:
    cols = [("Name", "string", 0), *[c for c, _ in extra], ("Age", "string", 0)]

    def cells(obj: Obj) -> list[Any]:
        return [_meta(obj).get("name"), *[f(obj) for _, f in extra], _created(obj)]
    return cols, cells


_S, _I = "string", "integer"
PRINTERS: dict[tuple[str, str], tuple[list[Column], Cells]] = {
    ("", "Pod"): ([("Name", _S, 0), ("Ready", _S, 0), ("Status", _S, 0), ("Restarts", _S, 0),
                   ("Age", _S, 0), ("IP", _S, 1), ("Node", _S, 1), ("Nominated Node", _S, 1),
                   ("Readiness Gates", _S, 1)], _pod),
    ("", "Service"): ([("Name", _S, 0), ("Type", _S, 0), ("Cluster-IP", _S, 0),
                       ("External-IP", _S, 0), ("Port(s)", _S, 0), ("Age", _S, 0),
                       ("Selector", _S, 1)], _service),
    ("apps", "Deployment"): ([("Name", _S, 0), ("Ready", _S, 0), ("Up-to-date", _I, 0),
                              ("Available", _I, 0), ("Age", _S, 0), ("Containers", _S, 1),
                              ("Images", _S, 1), ("Selector", _S, 1)], _deployment),
    ("apps", "ReplicaSet"): ([("Name", _S, 0), ("Desired", _I, 0), ("Current", _I, 0),
                              ("Ready", _I, 0), ("Age", _S, 0), ("Containers", _S, 1),
                              ("Images", _S, 1), ("Selector", _S, 1)], _replicaset),
    ("apps", "StatefulSet"): ([("Name", _S, 0), ("Ready", _S, 0), ("Age", _S, 0),
                               ("Containers", _S, 1), ("Images", _S, 1)], _statefulset),
    ("batch", "Job"): ([("Name", _S, 0), ("Status", _S, 0), ("Completions", _S, 0),
                        ("Duration", _S, 0), ("Age", _S, 0), ("Containers", _S, 1),
                        ("Images", _S, 1), ("Selector", _S, 1)], _job),
    ("batch", "CronJob"): ([("Name", _S, 0), ("Schedule", _S, 0), ("Timezone", _S, 0),
                            ("Suspend", "boolean", 0), ("Active", _I, 0),
                            ("Last Schedule", _S, 0), ("Age", _S, 0), ("Containers", _S, 1),
                            ("Images", _S, 1), ("Selector", _S, 1)], _cronjob),
    ("", "Endpoints"): ([("Name", _S, 0), ("Endpoints", _S, 0), ("Age", _S, 0)], _endpoints),
    ("discovery.k8s.io", "EndpointSlice"): ([("Name", _S, 0), ("AddressType", _S, 0),
                                             ("Ports", _S, 0), ("Endpoints", _S, 0),
                                             ("Age", _S, 0)], _endpointslice),
    ("", "PersistentVolumeClaim"): ([("Name", _S, 0), ("Status", _S, 0), ("Volume", _S, 0),
                                     ("Capacity", _S, 0), ("Access Modes", _S, 0),
                                     ("StorageClass", _S, 0), ("VolumeAttributesClass", _S, 0),
                                     ("Age", _S, 0), ("VolumeMode", _S, 1)], _pvc),
    ("", "Event"): ([("Last Seen", _S, 0), ("Type", _S, 0), ("Reason", _S, 0),
                     ("Object", _S, 0), ("Message", _S, 0), ("Subobject", _S, 1),
                     ("Source", _S, 1), ("First Seen", _S, 1), ("Count", _I, 1),
                     ("Name", _S, 1)], _event),
    ("", "ConfigMap"): _simple((("Data", _I, 0), lambda o: len(o.get("data") or {}) + len(
        o.get("binaryData") or {}))),
    ("", "Secret"): _simple((("Type", _S, 0), lambda o: o.get("type") or "Opaque"),
                            (("Data", _I, 0), lambda o: len(o.get("data") or {}) or len(
                                [k for k in str(_meta(o).get("annotations", {}).get(
                                    "flowyard.io/secret-keys", "")).split(",") if k]))),
    ("", "Namespace"): _simple((("Status", _S, 0), lambda o: _status(o).get("phase", "Active"))),
    ("", "ServiceAccount"): _simple((("Secrets", _I, 0), lambda o: len(o.get("secrets") or []))),
}
PRINTERS[("events.k8s.io", "Event")] = PRINTERS[("", "Event")]
PRINTERS[("apiextensions.k8s.io", "CustomResourceDefinition")] = (
    [("Name", _S, 0), ("Created At", "date", 0)],
    lambda o: [_meta(o).get("name"), _meta(o).get("creationTimestamp")])
