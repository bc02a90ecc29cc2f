"""The real `kubernetes` Python client (what Kubeflow's SDKs are built on) against
`flowyard up`: CoreV1Api, CustomObjectsApi, watch.Watch; CustomResourceDefinitions applied
with kubectl then served, validated and printed; watch semantics (bookmarks, 410, limits)."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.kube.conftest import Cluster


def test_core_and_custom_objects(cluster: Cluster) -> None:
    ns = cluster.namespace()
    api, client = cluster.api()
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="p", labels={"app": "a"}),
                       spec=client.V1PodSpec(containers=[client.V1Container(
                           name="c", image="busybox", command=["sleep", "1"])]))
    core.create_namespaced_pod(ns, pod)
    pods = core.list_namespaced_pod(ns, label_selector="app=a")
    assert [p.metadata.name for p in pods.items] == ["p"]
    assert pods.items[0].status.phase == "Pending"
    assert pods.items[0].spec.restart_policy == "Always"
    assert core.list_namespaced_pod(ns, field_selector="status.phase=Running").items == []
    assert len(core.list_namespaced_pod(ns, field_selector="metadata.name=p").items) == 1
    with pytest.raises(client.ApiException) as missing:
        core.read_namespaced_pod("nope", ns)
    assert missing.value.status == 404 and json.loads(missing.value.body)["reason"] == "NotFound"
    with pytest.raises(client.ApiException) as twice:
        core.create_namespaced_pod(ns, pod)
    assert twice.value.status == 409 and json.loads(twice.value.body)["reason"] == "AlreadyExists"

    job = {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "metadata": {"name": "pt"},
           "spec": {"pytorchReplicaSpecs": {"Master": {"replicas": 1, "template": {"spec": {
               "containers": [{"name": "pytorch", "image": "python:3.11"}]}}}}}}
    made = custom.create_namespaced_custom_object("kubeflow.org", "v1", ns, "pytorchjobs", job)
    assert made["metadata"]["namespace"] == ns and made["metadata"]["uid"]
    got = custom.get_namespaced_custom_object("kubeflow.org", "v1", ns, "pytorchjobs", "pt")
    assert got["spec"] == job["spec"]
    custom.patch_namespaced_custom_object_status(
        "kubeflow.org", "v1", ns, "pytorchjobs", "pt",
        {"status": {"conditions": [{"type": "Running", "status": "True"}]}})
    listed = custom.list_namespaced_custom_object("kubeflow.org", "v1", ns, "pytorchjobs")
    assert listed["items"][0]["status"]["conditions"][0]["type"] == "Running"
    lines = cluster.kubectl("get", "pytorchjobs", "-n", ns).stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "AGE"] and lines[1].split()[:2] == [
        "pt", "Running"]
    with pytest.raises(client.ApiException) as bad:
        custom.create_namespaced_custom_object("kubeflow.org", "v1", ns, "pytorchjobs", {
            **job, "metadata": {"name": "bad"}, "spec": {"pytorchReplicaSpecs": {}}})
    assert bad.value.status == 422 and "pytorchReplicaSpecs" in bad.value.body
    core.delete_collection_namespaced_pod(ns, label_selector="app=a")
    deadline = time.monotonic() + 5
    while core.list_namespaced_pod(ns).items and time.monotonic() < deadline:
        time.sleep(0.2)
    assert core.list_namespaced_pod(ns).items == []


def test_watch_stream(cluster: Cluster) -> None:
    from kubernetes import watch

    ns = cluster.namespace()
    api, client = cluster.api()
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="first"), data={"a": "1"}))

    def later() -> None:
        time.sleep(1.0)
        core.patch_namespaced_config_map("first", ns, {"data": {"a": "2"}})
        core.delete_namespaced_config_map("first", ns)

    threading.Thread(target=later, daemon=True).start()
    seen = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, ns, timeout_seconds=4):
        seen.append((event["type"], event["object"].metadata.name,
                     (event["object"].data or {}).get("a")))
        if event["type"] == "DELETED":
            w.stop()
    assert seen == [("ADDED", "first", "1"), ("MODIFIED", "first", "2"),
                    ("DELETED", "first", "2")]


def test_watch_from_list_version_with_bookmarks(cluster: Cluster) -> None:
    ns = cluster.namespace()
    base = f"{cluster.url}/api/v1/namespaces/{ns}/configmaps"
    listed = httpx.get(base).json()
    rv = listed["metadata"]["resourceVersion"]
    got: list[dict[str, object]] = []

    def read() -> None:
        with httpx.stream("GET", base, params={"watch": "true", "resourceVersion": rv,
                                               "allowWatchBookmarks": "true",
                                               "timeoutSeconds": "3"}, timeout=10) as r:
            for line in r.iter_lines():
                if line:
                    got.append(json.loads(line))

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.5)
    httpx.post(base, json={"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "later"}}).raise_for_status()
    reader.join(15)
    types = [e["type"] for e in got]
    assert types[0] == "ADDED" and "BOOKMARK" in types, types
    bookmark = next(e for e in got if e["type"] == "BOOKMARK")
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= int(rv)  # type: ignore[index]


def test_watch_limits_and_too_old(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowyard.store import open_store
    from flowyard.store.resources import ResourceStore

    ns = cluster.namespace()
    base = f"{cluster.url}/api/v1/namespaces/{ns}/configmaps"
    with httpx.Client(timeout=10, limits=httpx.Limits(max_connections=40)) as c:
        streams = []
        try:
            for _ in range(20):  # the server under test allows 20 per client
                s = c.stream("GET", base, params={"watch": "true", "timeoutSeconds": "5"})
                streams.append(s)
                assert s.__enter__().status_code == 200
            over = c.get(base, params={"watch": "true", "timeoutSeconds": "5"})
            assert over.status_code == 429 and over.json()["reason"] == "TooManyRequests"
            assert httpx.get(f"{cluster.url}/apis/v2beta1/healthz").status_code == 200
        finally:
            for s in streams:
                s.__exit__(None, None, None)
    monkeypatch.setenv("FLOWYARD_HOME", str(cluster.home))  # the server's store, via SQL
    ResourceStore(open_store()).compact(keep=1)
    old = httpx.get(base, params={"watch": "true", "resourceVersion": "1"})
    assert old.status_code == 410 and old.json()["reason"] == "Expired"


CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "widgets.example.com"},
       "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                          "shortNames": ["wd"]},
                "versions": [{"name": "v1", "served": True, "storage": True,
                              "subresources": {"status": {}},
                              "additionalPrinterColumns": [
                                  {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                                  {"name": "Age", "type": "date",
                                   "jsonPath": ".metadata.creationTimestamp"}],
                              "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                  "spec": {"type": "object", "required": ["size"],
                                           "properties": {
                                               "size": {"type": "integer", "minimum": 1},
                                               "color": {"type": "string",
                                                         "enum": ["red", "blue"]}}}}}}}]}}


def test_custom_resource_definition_registers_a_kind(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(CRD))
    assert "widgets" in cluster.kubectl("api-resources", "--api-group=example.com").stdout
    widget = {"apiVersion": "example.com/v1", "kind": "Widget",
              "metadata": {"name": "w1", "namespace": ns},
              "spec": {"size": 3, "color": "red", "unknown": "pruned"}}
    # kubectl asks for strict field validation: an undeclared field is an error ...
    strict = cluster.kubectl("apply", "-f", "-", stdin=json.dumps(widget), check=False)
    assert strict.returncode != 0 and 'unknown field "spec.unknown"' in strict.stderr
    # ... while a client that does not ask gets the field pruned, as Kubernetes prunes it
    api, client = cluster.api()
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        "example.com", "v1", ns, "widgets", widget)
    assert cluster.json("get", "wd", "w1", "-n", ns)["spec"] == {"size": 3, "color": "red"}
    lines = cluster.kubectl("get", "widgets", "-n", ns).stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "AGE"] and lines[1].split()[:2] == ["w1", "3"]
    bad = {**widget, "metadata": {"name": "w2", "namespace": ns}, "spec": {"size": "big"}}
    out = cluster.kubectl("apply", "-f", "-", stdin=json.dumps(bad), check=False)
    assert out.returncode != 0 and "spec.size" in out.stderr, out.stderr
    with pytest.raises(client.ApiException) as exc:
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            "example.com", "v1", ns, "widgets", {**bad, "spec": {"size": 0, "color": "green"}})
    body = json.loads(exc.value.body)
    assert exc.value.status == 422 and body["reason"] == "Invalid"
    assert {c["field"] for c in body["details"]["causes"]} == {"spec.size", "spec.color"}
    explained = cluster.kubectl("explain", "widget.spec").stdout
    assert "size" in explained and "color" in explained
    cluster.kubectl("delete", "crd", "widgets.example.com")
    assert "widgets" not in cluster.kubectl("api-resources", "--api-group=example.com").stdout
