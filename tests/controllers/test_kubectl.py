"""The workload controllers through the real kubectl: rollout status and undo, wait for a
Job, logs (-f, --previous, --tail), get -o wide, describe, delete."""

from __future__ import annotations

import json
import sys
import time

from tests.controllers.test_workloads import web_deployment
from tests.kube.conftest import Cluster, cluster  # noqa: F401  (the module's server)

PY = sys.executable


def test_rollout_status_undo_and_history(cluster: Cluster) -> None:  # noqa: F811
    ns = cluster.namespace()
    dep = web_deployment("web", 2)
    dep["metadata"]["namespace"] = ns
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(dep))
    out = cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=90s",
                          timeout=120).stdout
    assert 'deployment "web" successfully rolled out' in out
    wide = cluster.kubectl("get", "pods", "-n", ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    rows = [r.split() for r in wide[1:]]
    assert len(rows) == 2 and all(r[1] == "1/1" and r[2] == "Running" and r[6] == "flowyard"
                                  for r in rows)
    cluster.kubectl("set", "env", "deploy/web", "-n", ns, "COLOR=green")
    cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=90s", timeout=120)
    history = cluster.kubectl("rollout", "history", "deploy/web", "-n", ns).stdout
    assert "1 " in history and "2 " in history
    out = cluster.kubectl("rollout", "undo", "deploy/web", "-n", ns).stdout
    assert "rolled back" in out
    cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=90s", timeout=120)
    got = cluster.json("get", "deploy", "web", "-n", ns)
    assert got["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    env = got["spec"]["template"]["spec"]["containers"][0].get("env") or []
    assert all(e["name"] != "COLOR" for e in env)
    pods = cluster.json("get", "pods", "-n", ns, "-l", "app=web")["items"]
    assert len(pods) == 2
    assert all("COLOR" not in json.dumps(p["spec"]) for p in pods)
    # delete waits until the Deployment is gone; its pods follow (garbage collection).
    cluster.kubectl("delete", "deployment", "web", "-n", ns, timeout=120)
    deadline = time.monotonic() + 60
    while cluster.json("get", "pods", "-n", ns, "-l", "app=web")["items"]:
        assert time.monotonic() < deadline, "the deployment's pods stayed"
        time.sleep(0.2)


def test_wait_for_a_job_and_read_its_logs(cluster: Cluster) -> None:  # noqa: F811
    ns = cluster.namespace()
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "count", "namespace": ns},
           "spec": {"completions": 3, "parallelism": 2, "template": {"spec": {
               "restartPolicy": "Never", "containers": [{
                   "name": "c", "image": "busybox",
                   "command": ["sh", "-c", "for i in 1 2 3; do echo line $i; done"]}]}}}}
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(job))
    out = cluster.kubectl("wait", "--for=condition=complete", "job/count", "-n", ns,
                          "--timeout=90s", timeout=120).stdout
    assert "job.batch/count condition met" in out
    row = cluster.kubectl("get", "job", "count", "-n", ns).stdout.splitlines()[1].split()
    assert row[:3] == ["count", "Complete", "3/3"]
    assert cluster.kubectl("logs", "job/count", "-n", ns).stdout.split("\n")[:3] == [
        "line 1", "line 2", "line 3"]
    pod = cluster.json("get", "pods", "-n", ns, "-l", "job-name=count")["items"][0]
    name = pod["metadata"]["name"]
    assert cluster.kubectl("logs", name, "-n", ns, "--tail=1").stdout == "line 3\n"
    stamped = cluster.kubectl("logs", name, "-n", ns, "--timestamps").stdout.splitlines()
    assert stamped[0].endswith(" line 1") and stamped[0][:4].isdigit()
    described = cluster.kubectl("describe", "pod", name, "-n", ns).stdout
    assert "Scheduled" in described and "Started" in described
    assert "Completed" in described


def test_logs_follow_and_previous(cluster: Cluster) -> None:  # noqa: F811
    ns = cluster.namespace()
    script = ("import sys, time\n"
              "for i in range(3):\n"
              "    print('tick', i, flush=True); time.sleep(0.3)\n"
              "sys.exit(1)\n")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ticker", "namespace": ns},
           "spec": {"restartPolicy": "OnFailure", "containers": [{
               "name": "t", "image": "python", "command": [PY, "-c", script]}]}}
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    cluster.kubectl("wait", "--for=jsonpath={.status.phase}=Running", "pod/ticker", "-n", ns,
                    "--timeout=60s", timeout=90)
    followed = cluster.kubectl("logs", "-f", "ticker", "-n", ns, timeout=60).stdout
    assert followed.split("\n")[:3] == ["tick 0", "tick 1", "tick 2"]
    deadline = time.monotonic() + 60
    while True:
        st = cluster.json("get", "pod", "ticker", "-n", ns)["status"]
        if st.get("containerStatuses") and st["containerStatuses"][0]["restartCount"] >= 1:
            break
        assert time.monotonic() < deadline, st
        time.sleep(0.2)
    previous = cluster.kubectl("logs", "ticker", "-n", ns, "--previous").stdout
    assert previous.split("\n")[:3] == ["tick 0", "tick 1", "tick 2"]
    last = st["containerStatuses"][0]["lastState"]["terminated"]
    assert last["exitCode"] == 1 and last["reason"] == "Error"
