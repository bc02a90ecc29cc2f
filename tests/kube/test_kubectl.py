"""The real kubectl (v1.32) against `flowyard up`, unmodified and with validation on:
discovery, apply of a multi-document file (twice), get in every output, watch, describe with
events, patches, scale, deletion with cascading, TFJob's upstream printer columns."""

from __future__ import annotations

import json
import subprocess
import time

import yaml

from tests.kube.conftest import Cluster


def _manifest(ns: str) -> str:
    docs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": ns},
         "data": {"greeting": "hello"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": ns},
         "type": "Opaque", "data": {"token": "czNjcmV0"}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": "data", "namespace": ns},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {
             "storage": "1Gi"}}}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                      {"name": "web", "image": "python:3.11",
                       "command": ["python", "-m", "http.server", "8080"],
                       "ports": [{"containerPort": 8080}], "env": [{"name": "A", "value": "1"}]
                       }]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "count", "namespace": ns},
         "spec": {"completions": 3, "parallelism": 2, "template": {"spec": {
             "restartPolicy": "Never", "containers": [
                 {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo hi"]}]}}}},
    ]
    return yaml.safe_dump_all([{"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": ns}}, *docs])


def test_discovery_lists_every_kind_with_short_names(cluster: Cluster) -> None:
    out = cluster.kubectl("api-resources").stdout
    for line in ("pods  ", "deployments", "tfjobs", "inferenceservices", "customresourcedefinitions"):
        assert line.strip() in out, out
    row = next(r for r in out.splitlines() if r.startswith("inferenceservices"))
    assert "isvc" in row and "serving.kserve.io/v1beta1" in row and "true" in row
    assert "v1.32" in cluster.kubectl("version").stdout
    import httpx

    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    agg = httpx.get(f"{cluster.url}/apis", headers={"Accept": accept})
    assert "as=APIGroupDiscoveryList" in agg.headers["content-type"]
    groups = {g["metadata"]["name"]: g for g in agg.json()["items"]}
    assert [v["version"] for v in groups["kubeflow.org"]["versions"]] == [
        "v1", "v1beta1", "v1alpha1"]
    plain = httpx.get(f"{cluster.url}/apis").json()
    assert plain["kind"] == "APIGroupList"


def test_apply_get_and_apply_again(cluster: Cluster) -> None:
    ns = "shop"
    out = cluster.kubectl("apply", "-f", "-", stdin=_manifest(ns)).stdout
    for made in ("namespace/shop created", "configmap/cfg created", "secret/creds created",
                 "persistentvolumeclaim/data created", "deployment.apps/web created",
                 "service/web created", "job.batch/count created"):
        assert made in out, out
    # The deployment controller writes status (as in a cluster), so the resourceVersion moves;
    # an unchanged apply leaves the spec, hence the generation, as it was.
    gen = cluster.json("get", "deploy", "web", "-n", ns)["metadata"]["generation"]
    again = cluster.kubectl("apply", "-f", "-", stdin=_manifest(ns)).stdout
    for same in ("namespace/shop unchanged", "configmap/cfg unchanged",
                 "persistentvolumeclaim/data unchanged", "deployment.apps/web unchanged",
                 "service/web unchanged", "job.batch/count unchanged"):
        assert same in again, again
    assert cluster.json("get", "deploy", "web", "-n", ns)["metadata"]["generation"] == gen

    wide = cluster.kubectl("get", "deploy", "-n", ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS",
                               "IMAGES", "SELECTOR"]
    # READY is n/2: the deployment controller runs the replicas (controllers/deployments.py).
    assert wide[1].split()[0] == "web" and wide[1].split()[1].endswith("/2")
    assert "app=web" in wide[1]
    svc = cluster.kubectl("get", "svc", "web", "-n", ns).stdout.splitlines()
    assert svc[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert "80/TCP" in svc[1]
    job = cluster.kubectl("get", "jobs", "-n", ns).stdout.splitlines()
    assert job[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    # The Job controller runs it meanwhile (controllers/jobs.py): any progress is fine here.
    name, state, done = job[1].split()[:3]
    assert name == "count" and state in ("Running", "Complete") and done.endswith("/3")
    image = cluster.kubectl("get", "deploy", "web", "-n", ns, "-o",
                            "jsonpath={.spec.template.spec.containers[0].image}").stdout
    assert image == "python:3.11"
    as_yaml = yaml.safe_load(cluster.kubectl("get", "cm", "cfg", "-n", ns, "-o", "yaml").stdout)
    assert as_yaml["data"] == {"greeting": "hello"}
    names = cluster.kubectl("get", "cm,svc", "-n", ns, "-o", "name").stdout.split()
    assert names == ["configmap/cfg", "service/web"]
    # The controllers made the Deployment's and the Job's pods.
    pods = cluster.kubectl("get", "pods", "-n", ns).stdout.splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert any(line.startswith("web-") for line in pods[1:])
    assert "shop" in cluster.kubectl("get", "ns").stdout


def test_strict_validation_and_status_errors(cluster: Cluster) -> None:
    ns = cluster.namespace()
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": ns},
           "dta": {"a": "b"}}
    out = cluster.kubectl("apply", "-f", "-", stdin=json.dumps(bad), check=False)
    assert out.returncode != 0 and 'unknown field "dta"' in out.stderr, out.stderr
    wrong = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w", "namespace": ns},
             "spec": {"containers": "not-a-list"}}
    out = cluster.kubectl("apply", "-f", "-", stdin=json.dumps(wrong), check=False)
    assert out.returncode != 0 and "spec.containers" in out.stderr, out.stderr
    missing = cluster.kubectl("get", "pod", "nope", "-n", ns, check=False)
    assert 'Error from server (NotFound): pods "nope" not found' in missing.stderr
    nowhere = dict(bad, metadata={"name": "y", "namespace": "no-such-ns"})
    nowhere.pop("dta")
    out = cluster.kubectl("create", "-f", "-", stdin=json.dumps(nowhere), check=False)
    assert 'namespaces "no-such-ns" not found' in out.stderr
    sel = cluster.kubectl("get", "pods", "-n", ns, "--field-selector", "spec.bogus=1",
                          check=False)
    assert "field label not supported: spec.bogus" in sel.stderr


def test_watch_sees_changes(cluster: Cluster) -> None:
    ns = cluster.namespace()
    proc = subprocess.Popen(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "get", "cm",
                             "-n", ns, "-w", "--request-timeout=8s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "seen", "namespace": ns},
          "data": {"a": "1"}}
    cluster.kubectl("create", "-f", "-", stdin=json.dumps(cm))
    cluster.kubectl("label", "cm", "seen", "-n", ns, "x=y")
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    rows = [r.split() for r in out.splitlines() if r.startswith("seen")]
    assert len(rows) >= 2 and rows[0][:2] == ["seen", "1"], out


def test_patches_label_annotate_scale(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cluster.kubectl("apply", "-f", "-", stdin=_manifest(ns).split("---", 1)[1])
    cluster.kubectl("label", "deploy", "web", "-n", ns, "tier=front")
    cluster.kubectl("annotate", "deploy", "web", "-n", ns, "note=hi")
    # strategic merge: env merges by name instead of replacing the list
    cluster.kubectl("patch", "deploy", "web", "-n", ns, "-p", json.dumps({"spec": {"template": {
        "spec": {"containers": [{"name": "web", "env": [{"name": "B", "value": "2"}]}]}}}}))
    cluster.kubectl("patch", "deploy", "web", "-n", ns, "--type=merge", "-p",
                    '{"spec":{"minReadySeconds":3}}')
    cluster.kubectl("patch", "deploy", "web", "-n", ns, "--type=json", "-p",
                    '[{"op":"replace","path":"/spec/revisionHistoryLimit","value":4}]')
    cluster.kubectl("scale", "deploy", "web", "-n", ns, "--replicas=5")
    dep = cluster.json("get", "deploy", "web", "-n", ns)
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert dep["metadata"]["labels"]["tier"] == "front"
    assert dep["metadata"]["annotations"]["note"] == "hi"
    assert dep["spec"]["minReadySeconds"] == 3 and dep["spec"]["revisionHistoryLimit"] == 4
    assert dep["spec"]["replicas"] == 5 and dep["metadata"]["generation"] == 5
    # a label changes metadata only: generation counts spec changes
    cluster.kubectl("label", "deploy", "web", "-n", ns, "more=yes")
    assert cluster.json("get", "deploy", "web", "-n", ns)["metadata"]["generation"] == 5
    cm = cluster.json("get", "cm", "cfg", "-n", ns)
    cm["data"] = {"greeting": "replaced"}
    cluster.kubectl("replace", "-f", "-", stdin=json.dumps(cm))
    dry = dict(cm, data={"greeting": "dry"})
    dry["metadata"] = {"name": "cfg", "namespace": ns}
    assert "(server dry run)" in cluster.kubectl("apply", "--dry-run=server", "-f", "-",
                                                 stdin=json.dumps(dry)).stdout
    assert cluster.json("get", "cm", "cfg", "-n", ns)["data"] == {"greeting": "replaced"}
    chunked = cluster.kubectl("get", "cm,deploy", "-n", ns, "--chunk-size=1", "-o", "name")
    assert chunked.stdout.split() == ["configmap/cfg", "deployment.apps/web"]


def _pod(ns: str, name: str, owner: dict[str, str] | None = None) -> str:
    meta: dict[str, object] = {"name": name, "namespace": ns, "labels": {"app": "web"}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment",
                                    "name": owner["name"], "uid": owner["uid"],
                                    "controller": True, "blockOwnerDeletion": True}]
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "60"]}]}})


def _gone(cluster: Cluster, *args: str, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if cluster.kubectl("get", *args, check=False).returncode != 0:
            return True
        time.sleep(0.3)
    return False


def test_delete_cascades(cluster: Cluster) -> None:
    ns = cluster.namespace()
    for policy in ("background", "foreground", "orphan"):
        cluster.kubectl("apply", "-f", "-", stdin=_manifest(ns).split("---")[4])
        dep = cluster.json("get", "deploy", "web", "-n", ns)
        owner = {"name": "web", "uid": dep["metadata"]["uid"]}
        cluster.kubectl("create", "-f", "-", stdin=_pod(ns, f"web-{policy}", owner))
        cluster.kubectl("delete", "deploy", "web", "-n", ns, f"--cascade={policy}")
        assert _gone(cluster, "deploy", "web", "-n", ns)
        if policy == "orphan":
            pod = cluster.json("get", "pod", f"web-{policy}", "-n", ns)
            assert "ownerReferences" not in pod["metadata"]
        else:
            assert _gone(cluster, "pod", f"web-{policy}", "-n", ns), policy


def test_finalizers_hold_deletion(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "held", "namespace": ns, "finalizers": ["example.com/hold"]}}
    cluster.kubectl("create", "-f", "-", stdin=json.dumps(cm))
    cluster.kubectl("delete", "cm", "held", "-n", ns, "--wait=false")
    obj = cluster.json("get", "cm", "held", "-n", ns)
    assert obj["metadata"]["deletionTimestamp"]
    cluster.kubectl("patch", "cm", "held", "-n", ns, "--type=merge", "-p",
                    '{"metadata":{"finalizers":null}}')
    assert _gone(cluster, "cm", "held", "-n", ns, within=3)


def test_deleting_a_namespace_deletes_what_is_in_it(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cluster.kubectl("apply", "-f", "-", stdin=_manifest(ns).split("---", 1)[1])
    cluster.kubectl("delete", "ns", ns, "--timeout=30s")
    assert _gone(cluster, "ns", ns)
    assert "No resources found" in cluster.kubectl("get", "cm", "-n", ns).stderr


def test_describe_pod_shows_its_events(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cluster.kubectl("create", "-f", "-", stdin=_pod(ns, "p1"))
    api, client = cluster.api()
    core = client.CoreV1Api(api)
    core.create_namespaced_event(ns, client.CoreV1Event(
        metadata=client.V1ObjectMeta(name="p1.evt"), reason="Scheduled",
        message="assigned to this machine", type="Normal",
        involved_object=client.V1ObjectReference(kind="Pod", name="p1", namespace=ns)))
    out = cluster.kubectl("describe", "pod", "p1", "-n", ns).stdout
    assert "Scheduled" in out and "assigned to this machine" in out, out
    wide = cluster.kubectl("get", "pods", "-n", ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                               "NOMINATED", "NODE", "READINESS", "GATES"]
    # The kubelet (controllers/pods/) runs it meanwhile.
    row = wide[1].split()
    assert row[0] == "p1" and row[2] in ("Pending", "ContainerCreating", "Running")
    events = cluster.kubectl("get", "events", "-n", ns).stdout
    assert "pod/p1" in events and "Scheduled" in events


def test_tfjobs_print_upstream_columns(cluster: Cluster) -> None:
    ns = cluster.namespace()
    job = {"apiVersion": "kubeflow.org/v1", "kind": "TFJob", "metadata": {
        "name": "mnist", "namespace": ns}, "spec": {"tfReplicaSpecs": {"Worker": {
            "replicas": 1, "template": {"spec": {"containers": [
                {"name": "tensorflow", "image": "python:3.11"}]}}}}}}
    assert "created" in cluster.kubectl("apply", "-f", "-", stdin=json.dumps(job)).stdout
    assert "unchanged" in cluster.kubectl("apply", "-f", "-", stdin=json.dumps(job)).stdout
    lines = cluster.kubectl("get", "tfjobs", "-n", ns).stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "AGE"]
    assert lines[1].split()[0] == "mnist"
    explained = cluster.kubectl("explain", "deployment.spec.replicas").stdout
    assert "replicas" in explained and "integer" in explained


def test_server_side_apply_conflicts_and_force(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "namespace": ns},
          "data": {"a": "1", "b": "2"}}
    out = cluster.kubectl("apply", "--server-side", "--field-manager=alice", "-f", "-",
                          stdin=json.dumps(cm)).stdout
    assert "serverside-applied" in out
    cm["data"] = {"a": "changed"}
    clash = cluster.kubectl("apply", "--server-side", "--field-manager=bob", "-f", "-",
                            stdin=json.dumps(cm), check=False)
    assert clash.returncode != 0 and 'conflict with "alice"' in clash.stderr
    assert ".data.a" in clash.stderr
    cluster.kubectl("apply", "--server-side", "--field-manager=bob", "--force-conflicts", "-f",
                    "-", stdin=json.dumps(cm))
    obj = cluster.json("get", "cm", "ssa", "-n", ns, "--show-managed-fields")
    assert obj["data"] == {"a": "changed", "b": "2"}
    managers = {m["manager"] for m in obj["metadata"]["managedFields"]}
    assert managers == {"alice", "bob"}
    # alice applies again without b: she owned it alone, so it goes
    cluster.kubectl("apply", "--server-side", "--field-manager=alice", "--force-conflicts",
                    "-f", "-", stdin=json.dumps({**cm, "data": {"a": "changed"}}))
    assert cluster.json("get", "cm", "ssa", "-n", ns)["data"] == {"a": "changed"}


def test_applied_secret_values_stay_out_of_the_object(cluster: Cluster) -> None:
    ns = cluster.namespace()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": ns},
              "stringData": {"password": "hunter2-value"}}
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(secret))
    shown = cluster.kubectl("get", "secret", "s", "-n", ns, "-o", "json").stdout
    assert "hunter2-value" not in shown and "password" in shown


def test_events_watch(cluster: Cluster) -> None:
    ns = cluster.namespace()
    proc = subprocess.Popen(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "get",
                             "events", "-n", ns, "-w", "--request-timeout=6s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    api, client = cluster.api()
    client.CoreV1Api(api).create_namespaced_event(ns, client.CoreV1Event(
        metadata=client.V1ObjectMeta(name="x.evt"), reason="Pinged", message="hello there",
        type="Normal", involved_object=client.V1ObjectReference(kind="Pod", name="x",
                                                                namespace=ns)))
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    assert "Pinged" in out and "pod/x" in out, out
