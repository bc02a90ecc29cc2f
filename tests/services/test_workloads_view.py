"""The Workloads read models over Kubernetes-shaped objects created through the services layer
(the path the API and kubectl take), with statuses as Kubernetes writes them: what `kubectl
get` prints for pods, jobs, deployments and services, a pod's containers, command, restarts,
state history and log, and a Job's and a Deployment's pods."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowyard.services import resources, workload_status, workloads_view
from flowyard.services.context import Services
from flowyard.services.errors import InvalidArgument, NotFound
from flowyard.services.launcher import Launcher

NS = "team-a"


@pytest.fixture
def svc(fy_home: Path) -> Iterator[Services]:
    from flowyard.store import open_store

    store = open_store()
    services = Services(store, Launcher(asyncio.new_event_loop(), store))
    # Objects go into an existing namespace, as on a cluster.
    resources.create(services, resources.Ref("", "v1", "namespaces", ""),
                     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    yield services


def ts(seconds_ago: float = 0) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def ref(kind: workloads_view.WorkloadKind, name: str = "") -> resources.Ref:
    return resources.Ref(kind.group, kind.version, kind.plural, NS, name)


def create(svc: Services, kind: workloads_view.WorkloadKind, body: dict[str, Any]
           ) -> dict[str, Any]:
    api_version = f"{kind.group}/{kind.version}" if kind.group else kind.version
    return resources.create(svc, ref(kind), {"apiVersion": api_version, "kind": kind.kind,
                                             **body})


def set_status(svc: Services, kind: workloads_view.WorkloadKind, name: str,
               status: dict[str, Any]) -> None:
    resources.replace_status(svc, ref(kind, name), {"status": status})


def owner(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"apiVersion": obj["apiVersion"], "kind": obj["kind"], "controller": True,
             "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"]}]


def pod(name: str, owners: list[dict[str, Any]] | None = None, labels: dict[str, str] | None = None,
        command: list[str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels or {"app": "web"}}
    if owners:
        meta["ownerReferences"] = owners
    return {"metadata": meta, "spec": {"restartPolicy": "Always", "containers": [
        {"name": "main", "image": "python:3.11",
         "command": command or ["python", "-m", "http.server", "$(PORT)"],
         "env": [{"name": "PORT", "value": "8080"}],
         "ports": [{"containerPort": 8080}]}]}}


def running(restarts: int = 0, ready: bool = True) -> dict[str, Any]:
    cs: dict[str, Any] = {"name": "main", "image": "python:3.11", "ready": ready,
                          "started": True, "restartCount": restarts,
                          "state": {"running": {"startedAt": ts(5)}}, "lastState": {}}
    if restarts:
        cs["lastState"] = {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                          "startedAt": ts(300), "finishedAt": ts(240)}}
    return {"phase": "Running", "podIP": "10.89.0.7", "startTime": ts(400), "qosClass": "Burstable",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                            "lastTransitionTime": ts(5)}],
            "containerStatuses": [cs]}


def test_pod_status_columns_as_kubectl_prints_them() -> None:
    p = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}, "status": {
        "phase": "Running", "containerStatuses": [
            {"name": "a", "ready": True, "restartCount": 0, "state": {"running": {}}},
            {"name": "b", "ready": False, "restartCount": 4,
             "state": {"waiting": {"reason": "CrashLoopBackOff"}},
             "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                          "finishedAt": ts(90)}}}]}}
    assert workload_status.pod_status(p) == "CrashLoopBackOff"
    assert workload_status.pod_ready(p) == "1/2"
    assert workload_status.pod_restarts(p) == "4 (90s ago)"
    done = {"status": {"phase": "Succeeded", "containerStatuses": [
        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}
    assert workload_status.pod_status(done) == "Completed"
    killed = {"status": {"phase": "Failed", "containerStatuses": [
        {"name": "a", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}}
    assert workload_status.pod_status(killed) == "OOMKilled"
    init = {"spec": {"initContainers": [{"name": "i"}, {"name": "j"}]}, "status": {
        "phase": "Pending", "initContainerStatuses": [
            {"name": "i", "state": {"terminated": {"exitCode": 0}}},
            {"name": "j", "state": {"running": {}}}]}}
    assert workload_status.pod_status(init) == "Init:1/2"
    assert workload_status.pod_status({"metadata": {"deletionTimestamp": ts()},
                                       "status": {"phase": "Running"}}) == "Terminating"
    assert workload_status.human_duration(200) == "3m20s"
    assert workload_status.human_duration(3 * 86400 + 7200) == "3d2h"


def test_command_expands_env_as_the_kubelet_does() -> None:
    c = {"command": ["sh", "-c"], "args": ["echo $(GREETING) $$(GREETING) $(MISSING)"],
         "env": [{"name": "GREETING", "value": "hi"},
                 {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}
    assert workload_status.command_line(c) == ["sh", "-c", "echo hi $(GREETING) $(MISSING)"]


def test_pod_lists_detail_history_and_restarts(svc: Services) -> None:
    create(svc, workloads_view.POD, pod("web-1"))
    set_status(svc, workloads_view.POD, "web-1", {"phase": "Pending", "containerStatuses": [
        {"name": "main", "ready": False, "restartCount": 0,
         "state": {"waiting": {"reason": "ContainerCreating"}}}]})
    set_status(svc, workloads_view.POD, "web-1", running())
    set_status(svc, workloads_view.POD, "web-1", running())  # no change: no history entry
    set_status(svc, workloads_view.POD, "web-1", running(restarts=1))
    (row,) = workloads_view.list_pods(svc, NS)
    assert (row["name"], row["ready"], row["status"], row["ip"]) == (
        "web-1", "1/1", "Running", "10.89.0.7")
    assert row["restarts"].startswith("1 (") and row["restarts"].endswith(" ago)")
    assert workloads_view.list_pods(svc, "default") == []
    assert NS in workloads_view.namespaces(svc)

    d = workloads_view.pod_detail(svc, NS, "web-1")
    (c,) = d["containers"]
    assert c["command"] == ["python", "-m", "http.server", "8080"]
    assert (c["state"], c["restarts"], c["last_state"]) == ("running", 1, "terminated")
    assert "OOMKilled" in c["last_detail"] and "exit code 137" in c["last_detail"]
    assert [h["status"] for h in d["history"]] == ["Pending", "ContainerCreating", "Running",
                                                   "Running"]
    assert d["history"][-1]["containers"][0]["restarts"] == 1
    assert d["conditions"][0]["type"] == "Ready" and d["qos"] == "Burstable"
    with pytest.raises(NotFound):
        workloads_view.pod_detail(svc, NS, "nope")
    with pytest.raises(InvalidArgument, match="name"):
        workloads_view.pod_detail(svc, NS, "../etc")


def test_job_and_its_pods(svc: Services) -> None:
    job = create(svc, workloads_view.JOB, {"metadata": {"name": "train"}, "spec": {
        "completions": 3, "parallelism": 2, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "python:3.11", "command": ["true"]}]}}}})
    for i in range(3):
        create(svc, workloads_view.POD, pod(f"train-{i}", owner(job), {"job-name": "train"}))
    create(svc, workloads_view.POD, pod("stray"))
    set_status(svc, workloads_view.JOB, "train", {
        "startTime": ts(65), "completionTime": ts(5), "succeeded": 3,
        "conditions": [{"type": "Complete", "status": "True"}]})
    (row,) = workloads_view.list_jobs(svc, NS)
    assert (row["status"], row["completions"], row["duration"]) == ("Complete", "3/3", "60s")
    d = workloads_view.job_detail(svc, NS, "train")
    assert sorted(p["name"] for p in d["pods"]) == ["train-0", "train-1", "train-2"]
    assert workloads_view.pod_detail(svc, NS, "train-1")["controller"] == ("jobs", "train")


def test_deployment_replicasets_pods_and_service(svc: Services) -> None:
    dep = create(svc, workloads_view.DEPLOYMENT, {"metadata": {"name": "web"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
            {"name": "main", "image": "python:3.11"}]}}}})
    rs = create(svc, workloads_view.REPLICASET, {"metadata": {
        "name": "web-5d4f", "ownerReferences": owner(dep),
        "annotations": {"deployment.kubernetes.io/revision": "1"}}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
            {"name": "main", "image": "python:3.11"}]}}}})
    for i in range(2):
        create(svc, workloads_view.POD, pod(f"web-5d4f-{i}", owner(rs)))
        set_status(svc, workloads_view.POD, f"web-5d4f-{i}", running())
    set_status(svc, workloads_view.DEPLOYMENT, "web", {
        "replicas": 2, "readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1})
    (row,) = workloads_view.list_deployments(svc, NS)
    assert (row["ready"], row["up_to_date"], row["available"]) == ("1/2", 2, 1)
    d = workloads_view.deployment_detail(svc, NS, "web")
    assert [r["revision"] for r in d["replicasets"]] == ["1"]
    assert sorted(p["name"] for p in d["pods"]) == ["web-5d4f-0", "web-5d4f-1"]
    assert workloads_view.pod_detail(svc, NS, "web-5d4f-0")["controller"] == (
        "deployments", "web")

    create(svc, workloads_view.SERVICE, {"metadata": {"name": "web"}, "spec": {
        "type": "NodePort", "clusterIP": "10.96.0.12", "selector": {"app": "web"},
        "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}]}})
    (srow,) = workloads_view.list_services(svc, NS)
    assert (srow["type"], srow["cluster_ip"], srow["ports"], srow["selector"]) == (
        "NodePort", "10.96.0.12", "80:30080/TCP", "app=web")
    assert len(workloads_view.service_detail(svc, NS, "web")["pods"]) == 2


def test_container_log_follows_until_the_pod_ends(svc: Services) -> None:
    create(svc, workloads_view.POD, pod("logger"))
    set_status(svc, workloads_view.POD, "logger", running())
    path = workloads_view.container_log_path(NS, "logger", "main")
    path.parent.mkdir(parents=True)
    path.write_text("line 1\n")
    text, offset, ended = workloads_view.container_log(svc, NS, "logger", "main")
    assert (text, ended) == ("line 1\n", False)
    with path.open("a") as f:
        f.write("line 2 é\n")
    text, offset, ended = workloads_view.container_log(svc, NS, "logger", "main", offset)
    assert (text, ended) == ("line 2 é\n", False)
    # A chunk boundary inside a character: the character comes whole with the next read.
    cut = "line 2 é".encode().index("é".encode()) + 1
    part, nxt, _ = workloads_view.container_log(svc, NS, "logger", "main", 7, limit=cut)
    assert part == "line 2 " and nxt == 14
    set_status(svc, workloads_view.POD, "logger", {"phase": "Succeeded", "containerStatuses": [
        {"name": "main", "restartCount": 0, "state": {"terminated": {"exitCode": 0}}}]})
    assert workloads_view.container_log(svc, NS, "logger", "main", offset) == ("", offset, True)
    previous = workloads_view.container_log_path(NS, "logger", "main", previous=True)
    previous.write_text("the run before\n")
    assert workloads_view.container_log(svc, NS, "logger", "main", previous=True)[0] == (
        "the run before\n")
    with pytest.raises(InvalidArgument, match="container"):
        workloads_view.container_log(svc, NS, "logger", "../../secret.key")
