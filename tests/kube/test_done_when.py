"""Issue 9's "Done when", literally: the real kubectl (v1.32) and the real `kubernetes` client
against one `flowyard up` on a fresh FLOWYARD_HOME, pointed there by `flowyard kubeconfig`.

One server for the module; the tests run in file order and build on each other (the first
applies the multi-document file the others look at), so each "Done when" bullet is one named
test. The last one SIGKILLs the server and starts it again on the same home and port."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
NS = "shop"

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl missing")

# Answers with the greeting from its ConfigMap, its pod's name and its pid (which process
# served), and logs each request's path.
SERVE = """\
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{os.environ['GREETING']} {os.environ['POD_NAME']} {os.getpid()}".encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
        if self.path != "/": print("GET", self.path, flush=True)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""


def _deployment(name: str, ns: str, replicas: int = 2) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "terminationGracePeriodSeconds": 2,
                         "containers": [{
                             "name": "web", "image": "python:3.11",
                             "command": ["python", "-c", SERVE],
                             "ports": [{"containerPort": 8080, "name": "http"}],
                             "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {
                                 "fieldPath": "metadata.name"}}},
                                     {"name": "TOKEN", "valueFrom": {"secretKeyRef": {
                                         "name": "web-secret", "key": "TOKEN"}}}],
                             "envFrom": [{"configMapRef": {"name": "web-config"}}],
                             "readinessProbe": {"httpGet": {"path": "/", "port": "http"},
                                                "periodSeconds": 1}}]}}}}


def _job(name: str, ns: str, command: str) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": ns},
            "spec": {"completions": 3, "parallelism": 2, "template": {"spec": {
                "restartPolicy": "Never",
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
                "containers": [{"name": "work", "image": "busybox",
                                "command": ["sh", "-c", command],
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}}}


def _app(ns: str, job_command: str) -> list[dict[str, Any]]:
    """The multi-document file of the first bullet."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config",
                                                               "namespace": ns},
         "data": {"GREETING": "hello"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-secret",
                                                            "namespace": ns},
         "type": "Opaque", "stringData": {"TOKEN": "s3cr3t-value"}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": "data", "namespace": ns},
         "spec": {"accessModes": ["ReadWriteOnce"],
                  "resources": {"requests": {"storage": "10Mi"}}}},
        _deployment("web", ns),
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
         "spec": {"selector": {"app": "web"},
                  "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
        _job("crunch", ns, job_command),
    ]


def _yaml(docs: list[dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump_all(docs, sort_keys=False)


class Up:
    """`flowyard up` as a user starts it, on a fixed home and port so it can be SIGKILLed
    and started again where kubectl's kubeconfig points."""

    def __init__(self, home: Path) -> None:
        self.home = home
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "FLOWYARD_HOME": str(home), "PYTHONPATH": str(ROOT)}
        self.env.pop("FLOWYARD_DATABASE_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.kubeconfig = home / "kubeconfig"

    def start(self) -> Up:
        self.proc = subprocess.Popen(
            [PY, "-m", "flowyard.cli.main", "up", "--port", str(self.port), "--log-level",
             "warning"], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        until(self._answers, "flowyard up to answer", 90)
        path = subprocess.run([PY, "-m", "flowyard.cli.main", "kubeconfig", "--path"],
                              env=self.env, capture_output=True, text=True, check=True)
        assert Path(path.stdout.strip()) == self.kubeconfig
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"flowyard up exited: {self.proc.stderr.read().decode()}")
        try:
            return httpx.get(self.url + "/version", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
                             input=stdin, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
        return out

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def popen(self, *args: str) -> Lines:
        return Lines(["kubectl", "--kubeconfig", str(self.kubeconfig), *args])


class Lines:
    """A long-running kubectl (`logs -f`, `get -w`) whose output lines are read as they come."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pred: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.proc.poll() is None or not self.lines.empty(), \
                    f"kubectl ended before {what}: {self.seen}"
                continue
            self.seen.append(line)
            if pred(line):
                return line
        raise AssertionError(f"timed out waiting for {what}; saw {self.seen}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll until `check()` is truthy; the deadline only makes a broken feature fail."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (AssertionError, httpx.HTTPError, KeyError, IndexError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    server = Up(tmp_path_factory.mktemp("done-when")).start()
    try:
        yield server
    finally:
        server.stop()


def _pod(up: Up, name: str, ns: str = NS) -> dict[str, Any]:
    return up.json("get", "pod", name, "-n", ns)


def _web_pods(up: Up, ns: str = NS) -> list[dict[str, Any]]:
    return up.json("get", "pods", "-n", ns, "-l", "app=web")["items"]


# ---- the multi-document file --------------------------------------------------------------

def test_apply_a_multi_document_file(up: Up, tmp_path: Path) -> None:
    app = tmp_path / "app.yaml"
    app.write_text(_yaml(_app(NS, "echo start $HOSTNAME; sleep 1; echo $HOSTNAME >> "
                                  "/data/ledger; echo done")))
    out = up.kubectl("apply", "-f", str(app)).stdout.splitlines()
    assert out == ["namespace/shop created", "configmap/web-config created",
                   "secret/web-secret created", "persistentvolumeclaim/data created",
                   "deployment.apps/web created", "service/web created",
                   "job.batch/crunch created"]
    # Started now so that their restarts and back-off run while the next tests do.
    up.kubectl("apply", "-f", "-", stdin=_yaml([
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sick", "namespace": NS},
         "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
             "name": "app", "image": "busybox", "command": ["sh", "-c", "echo up; sleep 600"],
             "livenessProbe": {"exec": {"command": ["sh", "-c", "exit 1"]},
                               "periodSeconds": 1, "failureThreshold": 1}}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hog", "namespace": NS},
         "spec": {"restartPolicy": "Never", "containers": [{
             "name": "hog", "image": "python:3.11",
             "command": ["python", "-c", "b = bytearray(256 << 20); print('kept', len(b))"],
             "resources": {"limits": {"memory": "64Mi"}}}]}}]))


def test_apply_twice_says_unchanged(up: Up, tmp_path: Path) -> None:
    app = tmp_path / "app.yaml"
    app.write_text(_yaml(_app(NS, "echo start $HOSTNAME; sleep 1; echo $HOSTNAME >> "
                                  "/data/ledger; echo done")))
    secret_rv = up.json("get", "secret", "web-secret", "-n", NS)["metadata"]["resourceVersion"]
    out = up.kubectl("apply", "-f", str(app)).stdout.splitlines()
    # A Secret given as stringData is "configured" on every apply in Kubernetes too
    # (kubernetes/kubernetes#87736: kubectl's patch always carries stringData), but nothing
    # is written: its resourceVersion stays.
    assert out == ["namespace/shop unchanged", "configmap/web-config unchanged",
                   "secret/web-secret configured", "persistentvolumeclaim/data unchanged",
                   "deployment.apps/web unchanged", "service/web unchanged",
                   "job.batch/crunch unchanged"]
    assert up.json("get", "secret", "web-secret", "-n", NS)["metadata"][
        "resourceVersion"] == secret_rv


# ---- reading what runs -----------------------------------------------------------------------

def test_rollout_status_and_get_pods_wide(up: Up) -> None:
    out = up.kubectl("rollout", "status", "deployment/web", "-n", NS, "--timeout=90s",
                     timeout=120).stdout
    assert 'deployment "web" successfully rolled out' in out
    wide = up.kubectl("get", "pods", "-n", NS, "-l", "app=web", "-o", "wide").stdout
    lines = wide.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                                "NOMINATED", "NODE", "READINESS", "GATES"]
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == 2
    assert all(r[1] == "1/1" and r[2] == "Running" and r[6] == "flowyard" for r in rows)
    # Both replicas listen on 8080, each at its own address, and answer with the greeting
    # of the ConfigMap given through envFrom.
    answers = {httpx.get(f"http://{r[5]}:8080/", timeout=5).text.split()[1]: r[0]
               for r in rows}
    assert answers == {r[0]: r[0] for r in rows}
    assert httpx.get(f"http://{rows[0][5]}:8080/", timeout=5).text.startswith("hello ")


def test_get_jsonpath_and_the_seed_commands(up: Up) -> None:
    ips = up.kubectl("get", "pods", "-n", NS, "-l", "app=web", "-o",
                     "jsonpath={.items[*].status.podIP}").stdout.split()
    assert len(ips) == 2 and len(set(ips)) == 2
    # seed 004: SERVICE_IP=$(kubectl -n NS get service -l app=... -o jsonpath=...)
    cluster_ip = up.kubectl("-n", NS, "get", "service", "-l", "app=web", "-o",
                            "jsonpath={.items[0].spec.clusterIP}").stdout
    assert re.fullmatch(r"10\.96\.\d+\.\d+", cluster_ip)
    served = {until(lambda: httpx.get(f"http://{cluster_ip}/", timeout=5).text,
                    "the Service").split()[1] for _ in range(6)}
    assert served == {p["metadata"]["name"] for p in _web_pods(up)}  # round-robin over both
    # seed 001: kubectl get deploy -n kubeflow NAME -o wide
    up.kubectl("apply", "-f", "-", stdin=_yaml([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubeflow"}},
        _deployment("notebook-controller-deployment", "kubeflow", 0)]))
    wide = up.kubectl("get", "deploy", "-n", "kubeflow", "notebook-controller-deployment",
                      "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE",
                               "CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1].split()[5:] == ["web", "python:3.11",
                                   "app=notebook-controller-deployment"]
    missing = up.kubectl("get", "deploy", "-n", "kubeflow", "console", "-o", "wide",
                         check=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): deployments.apps "console" not found' in \
        missing.stderr
    # seed 001: kubectl get inferenceservice NAME -o jsonpath='{.status.url}' runs (the
    # URL stays empty: nothing serves InferenceServices yet).
    up.kubectl("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "sklearn-iris", "namespace": NS},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                                         "storageUri": "gs://kfserving-examples/x"}}}}))
    url = up.kubectl("get", "inferenceservice", "sklearn-iris", "-n", NS, "-o",
                     "jsonpath={.status.url}")
    assert url.returncode == 0 and url.stdout == ""


def test_wait_for_the_job_to_complete(up: Up) -> None:
    out = up.kubectl("wait", "--for=condition=complete", "job/crunch", "-n", NS,
                     "--timeout=90s", timeout=120).stdout
    assert out.strip() == "job.batch/crunch condition met"
    row = up.kubectl("get", "job", "crunch", "-n", NS).stdout.splitlines()[1].split()
    assert row[:3] == ["crunch", "Complete", "3/3"]
    pods = up.json("get", "pods", "-n", NS, "-l", "job-name=crunch")["items"]
    assert len(pods) == 3 and all(p["status"]["phase"] == "Succeeded" for p in pods)
    # Claims are namespaced: shop's claim "data" is its own folder.
    ledger = (up.home / "volumes" / "shop.data" / "ledger").read_text().split()
    assert sorted(ledger) == sorted(p["metadata"]["name"] for p in pods)  # each once


def test_a_pod_reaches_the_service_by_name(up: Up) -> None:
    up.kubectl("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "namespace": NS},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "c", "image": "busybox",
            "command": ["sh", "-c", "wget -qO- http://web/; echo; "
                                    "wget -qO- http://web.shop.svc.cluster.local/"]}]}}))
    up.kubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/client", "-n", NS,
               "--timeout=60s", timeout=90)
    lines = up.kubectl("logs", "client", "-n", NS).stdout.split()
    names = {p["metadata"]["name"] for p in _web_pods(up)}
    assert lines[0] == "hello" and lines[1] in names and lines[3] == "hello"


def test_logs_follow(up: Up) -> None:
    pod = _web_pods(up)[0]
    follow = up.popen("logs", "-f", pod["metadata"]["name"], "-n", NS)
    try:
        time.sleep(0.5)  # kubectl is following; what comes now must reach it
        httpx.get(f"http://{pod['status']['podIP']}:8080/followed-1", timeout=5)
        follow.wait_for(lambda line: line == "GET /followed-1", "the first request")
        httpx.get(f"http://{pod['status']['podIP']}:8080/followed-2", timeout=5)
        follow.wait_for(lambda line: line == "GET /followed-2", "the second request")
    finally:
        follow.close()


def test_get_watch_and_scale(up: Up) -> None:
    watch = up.popen("get", "pods", "-n", NS, "-l", "app=web", "-w")
    try:
        watch.wait_for(lambda line: line.startswith("NAME"), "the header")
        before = {p["metadata"]["name"] for p in _web_pods(up)}
        assert up.kubectl("scale", "deployment/web", "-n", NS, "--replicas=3").stdout.strip() \
            == "deployment.apps/web scaled"
        line = watch.wait_for(lambda line: line.split()[0] not in before and
                              line.split()[1:3] == ["1/1", "Running"], "the third replica")
        assert line.split()[0].startswith("web-")
    finally:
        watch.close()
    up.kubectl("scale", "deployment/web", "-n", NS, "--replicas=2")
    up.kubectl("rollout", "status", "deployment/web", "-n", NS, "--timeout=60s", timeout=90)
    until(lambda: len(_web_pods(up)) == 2, "back to 2 replicas")


def test_describe_pod_with_events(up: Up) -> None:
    name = _web_pods(up)[0]["metadata"]["name"]
    out = up.kubectl("describe", "pod", name, "-n", NS).stdout
    assert re.search(r"Status:\s+Running", out) and re.search(r"Node:\s+flowyard/", out)
    assert re.search(r"GREETING|web-config", out)
    assert "<set to the key 'TOKEN' in secret 'web-secret'>" in out
    assert "s3cr3t-value" not in out
    events = out.split("Events:", 1)[1]
    for reason in ("Scheduled", "Pulled", "Created", "Started"):
        assert re.search(rf"Normal\s+{reason}\s", events), (reason, events)


def test_failing_liveness_probe_restarts_with_back_off(up: Up) -> None:
    def backing_off() -> Any:
        cs = _pod(up, "sick")["status"]["containerStatuses"][0]
        waiting = cs["state"].get("waiting") or {}
        return cs["restartCount"] >= 1 and waiting.get("reason") == "CrashLoopBackOff" and cs
    cs = until(backing_off, "CrashLoopBackOff", 60)
    assert re.match(r"back-off \d+s restarting failed container=app pod=sick_shop\(",
                    cs["state"]["waiting"]["message"])
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    row = up.kubectl("get", "pod", "sick", "-n", NS).stdout.splitlines()[1].split()
    assert row[2] == "CrashLoopBackOff"
    events = up.kubectl("describe", "pod", "sick", "-n", NS).stdout.split("Events:", 1)[1]
    assert re.search(r"Warning\s+Unhealthy\s.*Liveness probe failed", events)
    assert "Container app failed liveness probe, will be restarted" in events
    assert re.search(r"Warning\s+BackOff\s.*Back-off restarting failed container app", events)


def test_a_pod_over_its_memory_limit_is_oomkilled(up: Up) -> None:
    term = until(lambda: _pod(up, "hog")["status"]["containerStatuses"][0]["state"]
                 .get("terminated"), "the hog to end", 60)
    assert term["reason"] == "OOMKilled" and term["exitCode"] == 137
    row = up.kubectl("get", "pod", "hog", "-n", NS).stdout.splitlines()[1].split()
    assert row[1:3] == ["0/1", "OOMKilled"]
    assert "kept" not in up.kubectl("logs", "hog", "-n", NS).stdout


def test_get_tfjobs_prints_the_upstream_printer_columns(up: Up) -> None:
    up.kubectl("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "kubeflow.org/v1", "kind": "TFJob",
        "metadata": {"name": "mnist", "namespace": NS},
        "spec": {"tfReplicaSpecs": {"Worker": {"replicas": 1, "template": {"spec": {
            "containers": [{"name": "tensorflow", "image": "busybox",
                            "command": ["true"]}]}}}}}}))
    lines = up.kubectl("get", "tfjobs", "-n", NS).stdout.splitlines()
    # training-operator's TFJob CRD: State (.status.conditions[-1:].type) and Age
    assert lines[0].split() == ["NAME", "STATE", "AGE"]
    assert lines[1].split()[0] == "mnist"


def test_the_kubernetes_python_client(up: Up) -> None:
    from kubernetes import client, config, watch

    api = config.new_client_from_config(str(up.kubeconfig))
    try:
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        pods = core.list_namespaced_pod(NS, label_selector="job-name=crunch").items
        assert len(pods) == 3 and all(p.status.phase == "Succeeded" for p in pods)
        log = core.read_namespaced_pod_log(pods[0].metadata.name, NS)
        assert log == f"start {pods[0].metadata.name}\ndone\n"
        made = custom.create_namespaced_custom_object(
            "kubeflow.org", "v1", NS, "pytorchjobs", {
                "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
                "metadata": {"name": "py-made"},
                "spec": {"pytorchReplicaSpecs": {"Master": {"replicas": 1, "template": {
                    "spec": {"containers": [{"name": "pytorch", "image": "busybox",
                                             "command": ["true"]}]}}}}}})
        assert made["metadata"]["uid"] and made["kind"] == "PyTorchJob"
        got = custom.get_namespaced_custom_object("kubeflow.org", "v1", NS, "pytorchjobs",
                                                  "py-made")
        assert got["metadata"]["uid"] == made["metadata"]["uid"]
        with pytest.raises(client.ApiException) as bad:
            custom.create_namespaced_custom_object("kubeflow.org", "v1", NS, "tfjobs", {
                "apiVersion": "kubeflow.org/v1", "kind": "TFJob", "metadata": {"name": "bad"},
                "spec": {"tfReplicaSpecs": {"Worker": {"template": {"spec": {
                    "containers": "not-a-list"}}}}}})
        assert bad.value.status == 422
        assert "spec.tfReplicaSpecs.Worker.template.spec.containers" in bad.value.body
        # A watch from a list's resourceVersion sees what is made afterwards.
        rv = core.list_namespaced_config_map(NS).metadata.resource_version
        threading.Timer(0.5, lambda: core.create_namespaced_config_map(
            NS, {"metadata": {"name": "watched"}, "data": {"a": "1"}})).start()
        w = watch.Watch()
        seen = []
        for event in w.stream(core.list_namespaced_config_map, NS, resource_version=rv,
                              timeout_seconds=30):
            seen.append((event["type"], event["object"].metadata.name))
            if event["object"].metadata.name == "watched":
                w.stop()
        assert seen == [("ADDED", "watched")]
    finally:
        api.close()


# ---- what the seeds and a curious user try ----------------------------------------------

def test_explain_get_all_and_what_is_not_built(up: Up) -> None:
    explain = up.kubectl("explain", "deployment.spec").stdout
    assert "KIND:       Deployment" in explain and "replicas\t<integer>" in explain
    everything = up.kubectl("get", "all", "-n", NS).stdout
    for name in ("pod/web-", "service/web", "deployment.apps/web", "replicaset.apps/web-",
                 "job.batch/crunch"):
        assert name in everything
    top = up.kubectl("top", "pods", "-n", NS, check=False, timeout=30)
    assert top.returncode != 0 and "Metrics API not available" in top.stderr
    pod = _web_pods(up)[0]["metadata"]["name"]
    for argv, sub in ((("exec", pod, "-n", NS, "--", "echo", "hi"), "exec"),
                      (("cp", "/etc/hostname", f"{NS}/{pod}:/tmp/h"), "exec"),
                      (("port-forward", pod, "-n", NS, "18999:8080"), "portforward")):
        out = up.kubectl(*argv, check=False, timeout=30)  # an answer, not a hang
        assert out.returncode != 0
        assert f"pods/{sub} (kubectl" in out.stderr and "not served by Flowyard yet" in \
            out.stderr, out.stderr
    missing = up.kubectl("exec", "nope", "-n", NS, "--", "true", check=False, timeout=30)
    assert 'pods "nope" not found' in missing.stderr


def test_rollout_undo(up: Up) -> None:
    up.kubectl("set", "image", "deployment/web", "-n", NS, "web=python:3.12")
    up.kubectl("rollout", "status", "deployment/web", "-n", NS, "--timeout=90s", timeout=120)
    assert {p["spec"]["containers"][0]["image"] for p in _web_pods(up)} == {"python:3.12"}
    history = up.kubectl("rollout", "history", "deployment/web", "-n", NS).stdout
    assert re.search(r"^1\s", history, re.M) and re.search(r"^2\s", history, re.M)
    assert "rolled back" in up.kubectl("rollout", "undo", "deployment/web", "-n", NS).stdout
    up.kubectl("rollout", "status", "deployment/web", "-n", NS, "--timeout=90s", timeout=120)
    until(lambda: {p["spec"]["containers"][0]["image"] for p in _web_pods(up)} ==
          {"python:3.11"} and len(_web_pods(up)) == 2, "the old template's pods")
    dep = up.json("get", "deployment", "web", "-n", NS)
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


def test_the_dashboard_workloads_pages(up: Up) -> None:
    listed = httpx.get(f"{up.url}/workloads", params={"ns": NS}, timeout=30)
    assert listed.status_code == 200 and "Server error" not in listed.text
    for name in [p["metadata"]["name"] for p in _web_pods(up)] + ["sick", "hog"]:
        assert name in listed.text
    page = httpx.get(f"{up.url}/workloads/{NS}/pods/sick", timeout=30)
    assert page.status_code == 200 and "CrashLoopBackOff" in page.text
    assert "Liveness probe failed" in page.text


def test_delete_deployment_removes_its_pods(up: Up) -> None:
    assert _web_pods(up)
    out = up.kubectl("delete", "deployment", "web", "-n", NS, timeout=120).stdout
    assert out.strip() == 'deployment.apps "web" deleted'
    until(lambda: not _web_pods(up) and not up.json("get", "rs", "-n", NS, "-l",
                                                     "app=web")["items"],
          "the Deployment's ReplicaSets and pods to go", 60)


# ---- pods outlive the control plane ------------------------------------------------------

def test_sigkilled_flowyard_up_re_adopts_pods_and_runs_nothing_twice(up: Up) -> None:
    ns = "outlive"
    docs = [d for d in _app(ns, "echo $HOSTNAME >> /data/ledger; sleep 4")
            if d["kind"] != "Service"]
    up.kubectl("apply", "-f", "-", stdin=_yaml(docs))
    up.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=90s", timeout=120)
    until(lambda: up.json("get", "job", "crunch", "-n", ns)["status"].get("active") == 2,
          "the Job running 2 pods")

    def served() -> dict[str, str]:
        return {p["metadata"]["name"]: httpx.get(f"http://{p['status']['podIP']}:8080/",
                                                 timeout=5).text
                for p in _web_pods(up, ns)}
    before = served()
    assert len(before) == 2
    ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in _web_pods(up, ns)}
    job_pods = {p["metadata"]["name"] for p in up.json(
        "get", "pods", "-n", ns, "-l", "job-name=crunch")["items"]}
    up.kill()
    for name, ip in ips.items():  # no control plane runs; the replicas still serve
        assert httpx.get(f"http://{ip}:8080/", timeout=5).text == before[name]
    up.start()
    job = until(lambda: (j := up.json("get", "job", "crunch", "-n", ns))["status"]
                .get("succeeded") == 3 and j, "the Job to complete", 120)
    assert any(c["type"] == "Complete" and c["status"] == "True"
               for c in job["status"]["conditions"])
    assert not job["status"].get("failed")
    assert served() == before  # the same pods, the same processes (pid in the answer)
    assert all(p["status"]["containerStatuses"][0]["restartCount"] == 0
               for p in _web_pods(up, ns))
    pods = up.json("get", "pods", "-n", ns, "-l", "job-name=crunch")["items"]
    assert len(pods) == 3 and job_pods <= {p["metadata"]["name"] for p in pods}
    assert all(p["status"]["containerStatuses"][0]["restartCount"] == 0 for p in pods)
    # Each of the Job's pods ran its command exactly once, into this namespace's claim.
    ledger = (up.home / "volumes" / f"{ns}.data" / "ledger").read_text().split()
    assert sorted(ledger) == sorted(p["metadata"]["name"] for p in pods)
