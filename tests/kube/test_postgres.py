"""The Kubernetes API on PostgreSQL: apply twice, a watch from a list's version, cascading
deletion and a namespace emptied, with the real kubectl."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.kube.conftest import Cluster

pytestmark = pytest.mark.postgres


def test_apply_watch_and_collect_on_postgres(pg_cluster: Cluster) -> None:
    c = pg_cluster
    ns = c.namespace()
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web",
                                                                      "namespace": ns},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {
               "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                   {"name": "web", "image": "python:3.11"}]}}}}
    assert "created" in c.kubectl("apply", "-f", "-", stdin=json.dumps(dep)).stdout
    assert "unchanged" in c.kubectl("apply", "-f", "-", stdin=json.dumps(dep)).stdout
    watch = subprocess.Popen(["kubectl", "--kubeconfig", str(c.kubeconfig), "get", "deploy",
                              "-n", ns, "-w", "--request-timeout=6s", "-o", "name"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    c.kubectl("scale", "deploy", "web", "-n", ns, "--replicas=3")
    out, _ = watch.communicate(timeout=20)
    assert out.count("deployment.apps/web") >= 2, out
    uid = c.json("get", "deploy", "web", "-n", ns)["metadata"]["uid"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "web-1", "namespace": ns, "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": uid}]},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    c.kubectl("create", "-f", "-", stdin=json.dumps(pod))
    c.kubectl("delete", "deploy", "web", "-n", ns)
    deadline = time.monotonic() + 10
    while c.kubectl("get", "pod", "web-1", "-n", ns, check=False).returncode == 0:
        assert time.monotonic() < deadline, "the dependent pod was not collected"
        time.sleep(0.3)
    c.kubectl("delete", "ns", ns, "--timeout=30s")
    assert c.kubectl("get", "ns", ns, check=False).returncode != 0
