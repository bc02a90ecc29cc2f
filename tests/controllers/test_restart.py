"""Pods outlive the control plane: SIGKILL `flowyard up` with a Deployment serving and a Job
running; after the restart the replicas are the same processes, the Job completes once and
no pod's command ran twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from tests.controllers.conftest import api_client, wait_for
from tests.controllers.test_workloads import web_deployment


def _served(core: client.CoreV1Api) -> dict[str, tuple[str, str]]:
    """pod name -> (its address, the pid that answers there)."""
    out = {}
    for pod in core.list_namespaced_pod("default", label_selector="app=web").items:
        ip = pod.status.pod_ip
        name, pid = httpx.get(f"http://{ip}:8080/", timeout=5).text.split()
        assert name == pod.metadata.name
        out[name] = (ip, pid)
    return out


def test_sigkilled_control_plane_re_adopts_pods_and_runs_nothing_twice(
        server_factory: Any, fy_home: Path) -> None:
    srv = server_factory().start()
    kube = api_client(srv.url)
    core, apps, batch = client.CoreV1Api(kube), client.AppsV1Api(kube), client.BatchV1Api(kube)
    core.create_namespaced_persistent_volume_claim("default", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "ledger"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}})
    apps.create_namespaced_deployment("default", web_deployment("web", 2))
    batch.create_namespaced_job("default", {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"completions": 3, "parallelism": 2, "template": {"spec": {
            "restartPolicy": "Never", "volumes": [{"name": "l", "persistentVolumeClaim": {
                "claimName": "ledger"}}],
            "containers": [{"name": "w", "image": "busybox", "command": [
                "sh", "-c", "echo $(POD_NAME) >> /ledger/runs; sleep 4"],
                "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {
                    "fieldPath": "metadata.name"}}}],
                "volumeMounts": [{"name": "l", "mountPath": "/ledger"}]}]}}}})
    wait_for(lambda: apps.read_namespaced_deployment("web", "default").status
             .available_replicas == 2, timeout=90, what="2 replicas")
    wait_for(lambda: batch.read_namespaced_job("once", "default").status.active == 2,
             what="the Job running 2 pods")
    before = _served(core)
    job_pods = {p.metadata.name for p in core.list_namespaced_pod(
        "default", label_selector="job-name=once").items}
    kube.close()

    srv.kill()  # SIGKILL: nothing gets to stop the pods
    for name, (ip, pid) in before.items():  # still serving while no control plane runs
        assert httpx.get(f"http://{ip}:8080/", timeout=5).text == f"{name} {pid}"

    srv2 = server_factory().start()
    kube = api_client(srv2.url)
    core, batch = client.CoreV1Api(kube), client.BatchV1Api(kube)
    job = wait_for(lambda: (j := batch.read_namespaced_job("once", "default")).status
                   .succeeded == 3 and j, timeout=120, what="the Job to complete")
    assert any(c.type == "Complete" and c.status == "True" for c in job.status.conditions)
    assert not job.status.failed
    after = _served(core)
    assert after == before  # the same pods, the same processes
    for pod in core.list_namespaced_pod("default", label_selector="app=web").items:
        assert pod.status.container_statuses[0].restart_count == 0
    pods = core.list_namespaced_pod("default", label_selector="job-name=once").items
    assert len(pods) == 3 and job_pods <= {p.metadata.name for p in pods}
    ledger = (fy_home / "volumes" / "ledger" / "runs").read_text().split()
    assert sorted(ledger) == sorted(p.metadata.name for p in pods)  # each ran exactly once
    kube.close()



def _serving_pod(core: client.CoreV1Api) -> tuple[str, str]:
    from tests.controllers.test_workloads import PY, SERVE

    core.create_namespaced_pod("default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "srv"},
        "spec": {"terminationGracePeriodSeconds": 2, "containers": [{
            "name": "http", "image": "python", "command": [PY, "-c", SERVE],
            "env": [{"name": "POD_NAME", "value": "srv"}],
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}})
    pod = wait_for(lambda: (p := core.read_namespaced_pod("srv", "default")).status.conditions
                   and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)
                   and p, what="the pod to be ready")
    ip = pod.status.pod_ip
    return ip, httpx.get(f"http://{ip}:8080/", timeout=5).text


def test_clean_stop_stops_pods_and_keep_pods_keeps_them(server_factory: Any) -> None:
    srv = server_factory(env={"FLOWYARD_KEEP_PODS": "1"}).start()
    kube = api_client(srv.url)
    ip, answer = _serving_pod(client.CoreV1Api(kube))
    kube.close()
    srv.stop()  # a clean stop, with pods kept
    assert httpx.get(f"http://{ip}:8080/", timeout=5).text == answer

    srv = server_factory().start()  # adopts it; this one stops pods when it stops
    kube = api_client(srv.url)
    core = client.CoreV1Api(kube)
    pod = wait_for(lambda: (p := core.read_namespaced_pod("srv", "default")).status.phase ==
                   "Running" and p, what="the adopted pod")
    assert pod.status.container_statuses[0].restart_count == 0
    assert httpx.get(f"http://{pod.status.pod_ip}:8080/", timeout=5).text == answer
    kube.close()
    srv.stop()
    try:
        httpx.get(f"http://{pod.status.pod_ip}:8080/", timeout=2)
        stopped = False
    except httpx.HTTPError:
        stopped = True
    assert stopped
