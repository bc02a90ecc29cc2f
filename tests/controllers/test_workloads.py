"""Deployments, Services and Jobs through the real `kubernetes` client against `flowyard up`,
with real processes: two replicas on the same port, a Service reaching them by name and at
its ClusterIP, a Job of 3 completions 2 at a time, deletion removing what was made."""

from __future__ import annotations

import sys
from typing import Any

import httpx
from kubernetes import client

from tests.controllers.conftest import event_reasons, wait_for

PY = sys.executable
# Answers with its pod's name: which replica served a request.
SERVE = ("import http.server, os\n"
         "class H(http.server.BaseHTTPRequestHandler):\n"
         "    def do_GET(self):\n"
         "        body = f\"{os.environ['POD_NAME']} {os.getpid()}\".encode()\n"
         "        self.send_response(200); self.end_headers(); self.wfile.write(body)\n"
         "    def log_message(self, *a): pass\n"
         "http.server.ThreadingHTTPServer(('0.0.0.0', 8080), H).serve_forever()\n")


def web_deployment(name: str = "web", replicas: int = 2) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "terminationGracePeriodSeconds": 2,
                         "containers": [{
                             "name": "http", "image": "python:3.11",
                             "command": [PY, "-c", SERVE],
                             "ports": [{"containerPort": 8080, "name": "http"}],
                             "env": [{"name": "POD_NAME", "valueFrom": {
                                 "fieldRef": {"fieldPath": "metadata.name"}}}],
                             "readinessProbe": {"httpGet": {"path": "/", "port": 8080},
                                                "periodSeconds": 1}}]}}}}


def web_service(name: str = "web") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name},
                     "ports": [{"port": 80, "targetPort": "http", "name": "http"}]}}


def _available(apps: client.AppsV1Api, name: str, n: int) -> Any:
    dep = apps.read_namespaced_deployment(name, "default")
    s = dep.status
    # What `kubectl rollout status` waits for.
    return dep if (s.available_replicas or 0) == n and (s.updated_replicas or 0) == n and \
        (s.replicas or 0) == n and (s.observed_generation or 0) >= dep.metadata.generation \
        else None


def test_deployment_and_service_reach_both_replicas_by_name_and_cluster_ip(kube: Any) -> None:
    core, apps = client.CoreV1Api(kube), client.AppsV1Api(kube)
    apps.create_namespaced_deployment("default", web_deployment())
    core.create_namespaced_service("default", web_service())
    dep = wait_for(lambda: _available(apps, "web", 2), timeout=90, what="2 available replicas")
    conds = {c.type: (c.status, c.reason) for c in dep.status.conditions}
    assert conds["Available"] == ("True", "MinimumReplicasAvailable")
    assert conds["Progressing"] == ("True", "NewReplicaSetAvailable")
    assert dep.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    rs = apps.list_namespaced_replica_set("default", label_selector="app=web").items
    assert len(rs) == 1 and rs[0].metadata.owner_references[0].kind == "Deployment"
    pods = core.list_namespaced_pod("default", label_selector="app=web").items
    assert len(pods) == 2
    assert {p.metadata.labels["pod-template-hash"] for p in pods} == {
        rs[0].metadata.labels["pod-template-hash"]}
    ips = {p.status.pod_ip for p in pods}
    assert len(ips) == 2  # each pod its own address, both on port 8080
    for ip in ips:
        assert httpx.get(f"http://{ip}:8080/", timeout=5).status_code == 200

    svc = core.read_namespaced_service("web", "default")
    cluster_ip = svc.spec.cluster_ip
    assert cluster_ip and cluster_ip.startswith("10.96.")
    ep = wait_for(lambda: (e := core.read_namespaced_endpoints("web", "default")).subsets
                  and len(e.subsets[0].addresses or []) == 2 and e, what="2 endpoints")
    assert {a.ip for a in ep.subsets[0].addresses} == ips
    assert ep.subsets[0].ports[0].port == 8080
    slices = client.DiscoveryV1Api(kube).list_namespaced_endpoint_slice(
        "default", label_selector="kubernetes.io/service-name=web").items
    assert len(slices) == 1 and len(slices[0].endpoints) == 2
    # The host reaches the Service at the address `kubectl get svc` shows; round-robin.
    served = {httpx.get(f"http://{cluster_ip}:80/", timeout=5).text.split()[0]
              for _ in range(6)}
    assert served == {p.metadata.name for p in pods}

    # A third pod reaches it by name (and by its full name).
    fetch = ("import urllib.request as u\n"
             "for h in ('web', 'web.default.svc.cluster.local'):\n"
             "    print(h, u.urlopen(f'http://{h}/', timeout=5).read().decode())\n")
    core.create_namespaced_pod("default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
        "spec": {"restartPolicy": "Never", "containers": [
            {"name": "c", "image": "python:3.11", "command": [PY, "-c", fetch]}]}})
    pod = wait_for(lambda: (p := core.read_namespaced_pod("client", "default")).status.phase
                   in ("Succeeded", "Failed") and p, what="the client pod")
    log = core.read_namespaced_pod_log("client", "default")
    assert pod.status.phase == "Succeeded", log
    names = {p.metadata.name for p in pods}
    for line in log.splitlines():
        assert line.split()[1] in names
    env_log = core.read_namespaced_pod_log("client", "default")
    assert env_log

    # Deleting the deployment removes its ReplicaSet and pods (and their processes).
    apps.delete_namespaced_deployment("web", "default")
    wait_for(lambda: not core.list_namespaced_pod("default", label_selector="app=web").items,
             what="the deployment's pods to go")
    assert not apps.list_namespaced_replica_set("default", label_selector="app=web").items

    def refused() -> bool:
        for ip in ips:
            try:
                httpx.get(f"http://{ip}:8080/", timeout=1)
                return False
            except httpx.HTTPError:
                pass
        return True

    wait_for(refused, what="the replicas' processes to stop")


def test_rolling_update_and_rollout_undo(kube: Any) -> None:
    apps = client.AppsV1Api(kube)
    apps.create_namespaced_deployment("default", web_deployment("roll", 2))
    wait_for(lambda: _available(apps, "roll", 2), timeout=90, what="revision 1")
    apps.patch_namespaced_deployment("roll", "default", {"spec": {"template": {"metadata": {
        "labels": {"app": "roll", "v": "2"}}}}})
    dep = wait_for(lambda: (d := _available(apps, "roll", 2)) and d.metadata.annotations[
        "deployment.kubernetes.io/revision"] == "2" and d, timeout=90, what="revision 2")
    assert (dep.status.replicas or 0) == 2
    sets = {r.metadata.annotations["deployment.kubernetes.io/revision"]: r for r in
            apps.list_namespaced_replica_set("default", label_selector="app=roll").items}
    assert set(sets) == {"1", "2"} and sets["1"].spec.replicas == 0
    assert sets["2"].spec.replicas == 2
    rs1_name = sets["1"].metadata.name
    reasons = [r for r, _ in event_reasons(kube, "Deployment", "roll")]
    assert reasons.count("ScalingReplicaSet") >= 3
    # `kubectl rollout undo`: the template of revision 1's ReplicaSet, without its hash label.
    template = client.ApiClient().sanitize_for_serialization(sets["1"].spec.template)
    del template["metadata"]["labels"]["pod-template-hash"]
    # (kubectl sends it as a JSON patch replacing /spec/template)
    apps.patch_namespaced_deployment("roll", "default", [
        {"op": "replace", "path": "/spec/template", "value": template}])
    dep = wait_for(lambda: (d := _available(apps, "roll", 2)) and d.metadata.annotations[
        "deployment.kubernetes.io/revision"] == "3" and d, timeout=90, what="revision 3")
    sets = {r.metadata.name: r for r in
            apps.list_namespaced_replica_set("default", label_selector="app=roll").items}
    assert len(sets) == 2  # revision 1's ReplicaSet came back as revision 3
    back = sets[rs1_name]
    assert back.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    assert back.spec.replicas == 2


def test_job_with_completions_3_and_parallelism_2(kube: Any) -> None:
    core, batch = client.CoreV1Api(kube), client.BatchV1Api(kube)
    batch.create_namespaced_job("default", {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "three"},
        "spec": {"completions": 3, "parallelism": 2, "completionMode": "Indexed",
                 "template": {"spec": {"restartPolicy": "Never", "containers": [{
                     "name": "work", "image": "busybox",
                     "command": ["sh", "-c", "echo index=$JOB_COMPLETION_INDEX; sleep 0.5"]}]}}}})
    most_active = 0

    def complete() -> Any:
        nonlocal most_active
        job = batch.read_namespaced_job("three", "default")
        most_active = max(most_active, job.status.active or 0)
        return job if any(c.type == "Complete" and c.status == "True"
                          for c in job.status.conditions or []) else None

    job = wait_for(complete, timeout=90, every=0.05, what="the Job to complete")
    assert job.status.succeeded == 3 and not job.status.failed
    assert job.status.completion_time and job.status.start_time
    assert job.status.completed_indexes == "0-2"
    assert most_active <= 2
    pods = core.list_namespaced_pod("default", label_selector="job-name=three").items
    assert len(pods) == 3
    logs = sorted(core.read_namespaced_pod_log(p.metadata.name, "default").strip()
                  for p in pods)
    assert logs == ["index=0", "index=1", "index=2"]
    assert all(p.metadata.owner_references[0].kind == "Job" for p in pods)
    reasons = [r for r, _ in event_reasons(kube, "Job", "three")]
    assert reasons.count("SuccessfulCreate") == 3 and "Completed" in reasons


def test_job_backoff_limit_fails_the_job(kube: Any) -> None:
    batch = client.BatchV1Api(kube)
    batch.create_namespaced_job("default", {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "doomed"},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                                                          "containers": [{
                                                              "name": "c", "image": "busybox",
                                                              "command": ["sh", "-c", "exit 3"]}]}}}})
    job = wait_for(lambda: (j := batch.read_namespaced_job("doomed", "default")).status
                   .conditions and any(c.type == "Failed" for c in j.status.conditions) and j,
                   what="the Job to fail")
    failed = next(c for c in job.status.conditions if c.type == "Failed")
    assert failed.reason == "BackoffLimitExceeded" and job.status.failed == 1


def test_node_port_service_listens_on_the_loopback(kube: Any) -> None:
    core = client.CoreV1Api(kube)
    apps = client.AppsV1Api(kube)
    apps.create_namespaced_deployment("default", web_deployment("np", 1))
    core.create_namespaced_service("default", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "np"},
        "spec": {"type": "NodePort", "selector": {"app": "np"},
                 "ports": [{"port": 80, "targetPort": 8080}]}})
    svc = wait_for(lambda: (s := core.read_namespaced_service("np", "default")).spec.ports[0]
                   .node_port and s, what="a nodePort")
    port = svc.spec.ports[0].node_port
    assert 30000 <= port <= 32767 and svc.spec.type == "NodePort"
    wait_for(lambda: _available(apps, "np", 1), timeout=90, what="the replica")
    text = wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text,
                    what="the NodePort to answer")
    assert text.startswith("np-")
