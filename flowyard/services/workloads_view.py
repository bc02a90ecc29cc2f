"""Read models of the dashboard's Workloads area, over the Kubernetes-shaped objects in the
resources table: per namespace the pods, jobs, deployments and services lists (the columns
`kubectl get` prints), a pod with its containers, conditions, state history (from the
object's change log), restarts, the command each container ran, events and its logs, and a
Job's or Deployment's pods (found through ownerReferences, as the garbage collector does)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from flowyard.config import settings
from flowyard.resources.meta import check_name
from flowyard.services import resource_lists, resources, workload_status
from flowyard.services.context import Services
from flowyard.services.errors import InvalidArgument, NotFound
from flowyard.store.schema import Resource, ResourceChange


@dataclass(frozen=True)
class WorkloadKind:
    kind: str
    group: str
    version: str
    plural: str

    def ref(self, namespace: str, name: str = "") -> resources.Ref:
        # Group, version and plural are ours; the namespace and name come from a URL.
        _check(namespace, "namespace")
        if name:
            _check(name, "name")
        return resources.Ref(self.group, self.version, self.plural, namespace, name)


def _check(value: str, what: str) -> None:
    try:
        check_name(value)
    except ValueError as exc:
        raise InvalidArgument(f"{what}: {exc}") from None


POD = WorkloadKind("Pod", "", "v1", "pods")
JOB = WorkloadKind("Job", "batch", "v1", "jobs")
DEPLOYMENT = WorkloadKind("Deployment", "apps", "v1", "deployments")
REPLICASET = WorkloadKind("ReplicaSet", "apps", "v1", "replicasets")
SERVICE = WorkloadKind("Service", "", "v1", "services")
LISTED = {"pods": POD, "jobs": JOB, "deployments": DEPLOYMENT, "services": SERVICE}
HISTORY_LIMIT = 500  # changes read for a pod's state history (its newest)
LOG_CHUNK = 256_000
DONE_PHASES = ("Succeeded", "Failed")


def namespaces(svc: Services) -> list[str]:
    """Namespaces that exist as objects or hold any object, `default` always."""
    with svc.store.session() as s:
        held = set(s.scalars(select(Resource.namespace).where(
            Resource.deleted.is_(False), Resource.namespace != "").distinct()))
        named = set(s.scalars(select(Resource.name).where(
            Resource.deleted.is_(False), Resource.group == "", Resource.plural == "namespaces")))
    return sorted(held | named | {"default"})


def _items(svc: Services, kind: WorkloadKind, namespace: str) -> list[dict[str, Any]]:
    return list(resource_lists.list_(svc, kind.ref(namespace))["items"])


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _owner(obj: dict[str, Any]) -> dict[str, str] | None:
    refs = _meta(obj).get("ownerReferences") or []
    ctrl = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    return {"kind": ctrl.get("kind", ""), "name": ctrl.get("name", ""),
            "uid": ctrl.get("uid", "")} if ctrl else None


def pod_row(pod: dict[str, Any]) -> dict[str, Any]:
    status = pod.get("status") or {}
    return {"name": _meta(pod).get("name", ""), "namespace": _meta(pod).get("namespace", ""),
            "ready": workload_status.pod_ready(pod), "status": workload_status.pod_status(pod),
            "restarts": workload_status.pod_restarts(pod),
            "age": workload_status.age(_meta(pod).get("creationTimestamp")),
            "ip": status.get("podIP") or "", "node": (pod.get("spec") or {}).get("nodeName", ""),
            "owner": _owner(pod)}


def list_pods(svc: Services, namespace: str) -> list[dict[str, Any]]:
    return [pod_row(p) for p in _items(svc, POD, namespace)]


def job_row(job: dict[str, Any]) -> dict[str, Any]:
    return {"name": _meta(job).get("name", ""), "status": workload_status.job_status(job),
            "completions": workload_status.job_completions(job),
            "duration": workload_status.job_duration(job),
            "age": workload_status.age(_meta(job).get("creationTimestamp"))}


def list_jobs(svc: Services, namespace: str) -> list[dict[str, Any]]:
    return [job_row(j) for j in _items(svc, JOB, namespace)]


def deployment_row(dep: dict[str, Any]) -> dict[str, Any]:
    status = dep.get("status") or {}
    return {"name": _meta(dep).get("name", ""), "ready": workload_status.deployment_ready(dep),
            "up_to_date": int(status.get("updatedReplicas") or 0),
            "available": int(status.get("availableReplicas") or 0),
            "age": workload_status.age(_meta(dep).get("creationTimestamp"))}


def list_deployments(svc: Services, namespace: str) -> list[dict[str, Any]]:
    return [deployment_row(d) for d in _items(svc, DEPLOYMENT, namespace)]


def service_row(obj: dict[str, Any]) -> dict[str, Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress) or ",".join(
        spec.get("externalIPs") or []) or "<none>"
    selector = spec.get("selector") or {}
    return {"name": _meta(obj).get("name", ""), "type": spec.get("type") or "ClusterIP",
            "cluster_ip": spec.get("clusterIP") or "<none>", "external_ip": external,
            "ports": workload_status.service_ports(obj),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>",
            "age": workload_status.age(_meta(obj).get("creationTimestamp"))}


def list_services(svc: Services, namespace: str) -> list[dict[str, Any]]:
    return [service_row(s) for s in _items(svc, SERVICE, namespace)]


def get(svc: Services, kind: WorkloadKind, namespace: str, name: str) -> dict[str, Any]:
    try:
        return resources.get(svc, kind.ref(namespace, name))
    except NotFound:
        raise NotFound(f"no {kind.kind} {name!r} in namespace {namespace!r}") from None


def _state_summary(obj: dict[str, Any]) -> tuple[str, tuple[tuple[str, str, str, int], ...]]:
    status = obj.get("status") or {}
    containers = tuple(
        (c.get("name", ""), *workload_status.container_state(c.get("state")),
         int(c.get("restartCount") or 0))
        for c in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses")
                                                                 or []))
    return workload_status.pod_status(obj), containers


def state_history(svc: Services, pod: dict[str, Any]) -> list[dict[str, Any]]:
    """Each time the pod's status (or a container's state) changed, oldest first, from the
    object's change log: Kubernetes itself keeps only `state` and `lastState`."""
    uid = _meta(pod).get("uid")
    with svc.store.session() as s:
        rows = s.execute(select(ResourceChange.created_at, ResourceChange.type,
                                ResourceChange.object)
                         .where(ResourceChange.group == "", ResourceChange.plural == "pods",
                                ResourceChange.uid == uid)
                         .order_by(ResourceChange.resource_version.desc())
                         .limit(HISTORY_LIMIT)).all()
    out: list[dict[str, Any]] = []
    last: Any = None
    for at, type_, obj in reversed(rows):
        summary = _state_summary(obj)
        if summary == last:
            continue
        last = summary
        out.append({"at": at, "change": type_, "status": summary[0],
                    "containers": [{"name": n, "state": st, "detail": d, "restarts": r}
                                   for n, st, d, r in summary[1]]})
    return out


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    by_name = {c.get("name"): c for c in (status.get("initContainerStatuses") or []) +
               (status.get("containerStatuses") or [])}
    out = []
    for role, items in (("init", spec.get("initContainers") or []),
                        ("container", spec.get("containers") or [])):
        for c in items:
            st = by_name.get(c.get("name"), {})
            state, detail = workload_status.container_state(st.get("state"))
            last, last_detail = workload_status.container_state(st.get("lastState"))
            sidecar = role == "init" and c.get("restartPolicy") == "Always"
            out.append({"name": c.get("name", ""), "role": "sidecar" if sidecar else role,
                        "image": c.get("image", ""),
                        "command": workload_status.command_line(c),
                        "working_dir": c.get("workingDir", ""),
                        "ports": [f"{p.get('containerPort')}/{p.get('protocol') or 'TCP'}"
                                  for p in c.get("ports") or []],
                        "state": state, "detail": detail, "last_state": last,
                        "last_detail": last_detail, "ready": bool(st.get("ready")),
                        "restarts": int(st.get("restartCount") or 0),
                        "resources": c.get("resources") or {}})
    return out


def pod_detail(svc: Services, namespace: str, name: str) -> dict[str, Any]:
    pod = get(svc, POD, namespace, name)
    status = pod.get("status") or {}
    return {"row": pod_row(pod), "object": pod, "phase": status.get("phase", "Pending"),
            "controller": _controller_page(svc, namespace, _owner(pod)),
            "reason": status.get("reason", ""), "message": status.get("message", ""),
            "start_time": status.get("startTime"), "qos": status.get("qosClass", ""),
            "conditions": status.get("conditions") or [],
            "labels": _meta(pod).get("labels") or {}, "containers": _containers(pod),
            "history": state_history(svc, pod),
            "events": resources.events(svc, "Pod", namespace, name),
            "resource_version": _meta(pod).get("resourceVersion")}


def _controller_page(svc: Services, namespace: str, owner: dict[str, str] | None
                     ) -> tuple[str, str] | None:
    """(plural, name) of the workload page a pod belongs on: its Job, or the Deployment of
    its ReplicaSet."""
    if owner is None:
        return None
    if owner["kind"] == "Job":
        return "jobs", owner["name"]
    if owner["kind"] == "ReplicaSet":
        try:
            rs = get(svc, REPLICASET, namespace, owner["name"])
        except NotFound:
            return None
        dep = _owner(rs)
        if dep is not None and dep["kind"] == "Deployment":
            return "deployments", dep["name"]
    return None


def owned_pods(svc: Services, namespace: str, owner_uids: set[str]) -> list[dict[str, Any]]:
    return [pod_row(p) for p in _items(svc, POD, namespace)
            if any(r.get("uid") in owner_uids for r in _meta(p).get("ownerReferences") or [])]


def job_detail(svc: Services, namespace: str, name: str) -> dict[str, Any]:
    job = get(svc, JOB, namespace, name)
    uid = _meta(job).get("uid", "")
    return {"row": job_row(job), "object": job,
            "conditions": (job.get("status") or {}).get("conditions") or [],
            "pods": owned_pods(svc, namespace, {uid}),
            "events": resources.events(svc, "Job", namespace, name)}


def deployment_detail(svc: Services, namespace: str, name: str) -> dict[str, Any]:
    """A Deployment, its ReplicaSets (revisions) and their pods."""
    dep = get(svc, DEPLOYMENT, namespace, name)
    uid = _meta(dep).get("uid", "")
    sets = [rs for rs in _items(svc, REPLICASET, namespace)
            if any(r.get("uid") == uid for r in _meta(rs).get("ownerReferences") or [])]
    rs_rows = [{"name": _meta(rs).get("name", ""),
                "revision": (_meta(rs).get("annotations") or {}).get(
                    "deployment.kubernetes.io/revision", ""),
                "desired": (rs.get("spec") or {}).get("replicas", 0),
                "ready": int((rs.get("status") or {}).get("readyReplicas") or 0),
                "age": workload_status.age(_meta(rs).get("creationTimestamp"))} for rs in sets]
    owners = {uid} | {_meta(rs).get("uid", "") for rs in sets}
    return {"row": deployment_row(dep), "object": dep,
            "conditions": (dep.get("status") or {}).get("conditions") or [],
            "replicasets": rs_rows, "pods": owned_pods(svc, namespace, owners),
            "events": resources.events(svc, "Deployment", namespace, name)}


def service_detail(svc: Services, namespace: str, name: str) -> dict[str, Any]:
    """A Service and the pods its selector picks (its endpoints)."""
    obj = get(svc, SERVICE, namespace, name)
    selector = (obj.get("spec") or {}).get("selector") or {}
    pods = [pod_row(p) for p in _items(svc, POD, namespace) if selector and all(
        (_meta(p).get("labels") or {}).get(k) == v for k, v in selector.items())]
    return {"row": service_row(obj), "object": obj, "pods": pods,
            "events": resources.events(svc, "Service", namespace, name)}


def container_log_path(namespace: str, pod: str, container: str, previous: bool = False) -> Path:
    """Where a container's log lies: the file the local executor writes for the log reference
    ("pods", NAMESPACE, POD, CONTAINER); its run before the last restart beside it."""
    for part, what in ((namespace, "namespace"), (pod, "pod"), (container, "container")):
        _check(part, what)
    path = settings().logs_dir / "pods" / namespace / pod / f"{container}.log"
    return Path(f"{path}.previous") if previous else path


def container_log(svc: Services, namespace: str, pod: str, container: str, offset: int = 0,
                  previous: bool = False, limit: int = LOG_CHUNK) -> tuple[str, int, bool]:
    """The container's log from byte `offset` (at most `limit` bytes), the next offset, and
    whether nothing more will come (the container or the pod has ended, or the pod is gone):
    what the pod page appends while it follows the log."""
    path = container_log_path(namespace, pod, container, previous)
    try:
        obj = get(svc, POD, namespace, pod)
    except NotFound:
        obj = None
    ended = previous or obj is None or _container_ended(obj, container)
    if not path.is_file():
        return "", offset, ended
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read(limit)
    more = len(data) == limit
    if more:
        data = _whole_characters(data)
    return data.decode(errors="replace"), offset + len(data), ended and not more


def _whole_characters(data: bytes) -> bytes:
    """`data` without a UTF-8 character cut at its end (the next read starts with it)."""
    for cut in range(1, 4):
        if len(data) > cut and (data[-cut] & 0xC0) == 0xC0:  # a lead byte
            need = 2 if data[-cut] < 0xE0 else 3 if data[-cut] < 0xF0 else 4
            return data[:-cut] if need > cut else data
        if (data[-cut] & 0xC0) != 0x80:  # ASCII: nothing is cut
            return data
    return data


def _container_ended(pod: dict[str, Any], container: str) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") in DONE_PHASES:
        return True
    for c in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses")
                                                             or []):
        if c.get("name") == container:
            restart = (pod.get("spec") or {}).get("restartPolicy", "Always")
            return "terminated" in (c.get("state") or {}) and restart == "Never"
    return False
