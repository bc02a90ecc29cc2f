"""The resources API on the real app (in-process, lifespan and controllers running):
CRUD, label selectors, optimistic concurrency, patches, status, watch, events, validation."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowyard.client import local_http

TFJOBS = "/apis/kubeflow.org/v1/namespaces/team-a/tfjobs"


def tfjob(name: str, replicas: int = 2, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "kubeflow.org/v1", "kind": "TFJob",
            "metadata": {"name": name, "labels": labels},
            "spec": {"runPolicy": {"cleanPodPolicy": "None"}, "tfReplicaSpecs": {"Worker": {
                "replicas": replicas, "template": {"spec": {"containers": [
                    {"name": "tensorflow", "image": "tf:2", "command": ["python", "t.py"]}]}}}}}}


@pytest.fixture
def api() -> httpx.Client:
    """The real app in this process, its control plane in a background loop, with the
    namespace these tests use (creating in a missing namespace is NotFound, as in Kubernetes)."""
    client = local_http()
    client.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "team-a"}})
    return client


def test_create_get_list_replace_delete(api: httpx.Client) -> None:
    made = api.post(TFJOBS, json=tfjob("mnist", team="vision"))
    assert made.status_code == 201, made.text
    obj = made.json()
    assert obj["metadata"]["namespace"] == "team-a" and obj["metadata"]["generation"] == 1
    assert obj["spec"]["runPolicy"] == {"cleanPodPolicy": "None"}  # unknown fields kept
    api.post(TFJOBS, json=tfjob("cifar", team="vision", size="big"))
    api.post(TFJOBS, json=tfjob("bert", team="nlp"))

    def names(selector: str) -> list[str]:
        got = api.get(TFJOBS, params={"labelSelector": selector}).json()
        return [i["metadata"]["name"] for i in got["items"]]

    assert names("team=vision") == ["cifar", "mnist"]
    assert names("team!=vision") == ["bert"]
    assert names("team in (nlp,audio)") == ["bert"]
    assert names("size") == ["cifar"] and names("!size") == ["bert", "mnist"]
    assert api.get(TFJOBS, params={"labelSelector": "team in nlp"}).status_code == 400

    dup = api.post(TFJOBS, json=tfjob("mnist"))
    assert dup.status_code == 409 and dup.json()["reason"] == "AlreadyExists"

    current = api.get(f"{TFJOBS}/mnist").json()
    changed = json.loads(json.dumps(current))
    changed["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] = 4
    replaced = api.put(f"{TFJOBS}/mnist", json=changed)
    assert replaced.status_code == 200 and replaced.json()["metadata"]["generation"] == 2
    stale = api.put(f"{TFJOBS}/mnist", json=current)  # still carries the old resourceVersion
    assert stale.status_code == 409 and stale.json()["reason"] == "Conflict"
    assert "modified" in stale.json()["message"]

    assert api.delete(f"{TFJOBS}/mnist").json()["status"] == "Success"
    gone = api.get(f"{TFJOBS}/mnist")
    assert gone.status_code == 404 and gone.json()["kind"] == "Status"
    again = api.post(TFJOBS, json=tfjob("mnist"))  # a deleted name can be used again
    assert again.status_code == 201 and again.json()["metadata"]["uid"] != obj["metadata"]["uid"]


def test_validation_names_the_bad_field(api: httpx.Client) -> None:
    bad = tfjob("mnist")
    del bad["spec"]["tfReplicaSpecs"]["Worker"]["template"]
    bad["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] = -1
    resp = api.post(TFJOBS, json=bad)
    assert resp.status_code == 422
    fields = {c["field"] for c in resp.json()["details"]["causes"]}
    assert fields == {"spec.tfReplicaSpecs.Worker.template", "spec.tfReplicaSpecs.Worker.replicas"}
    resp = api.post(TFJOBS, json=tfjob("Not_A_Name"))
    assert resp.status_code == 422 and "metadata.name" in resp.json()["message"]
    exp = {"apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment", "metadata": {"name": "e"},
           "spec": {"objective": {"type": "maximise", "objectiveMetricName": "acc"},
                    "algorithm": {"algorithmName": "random"}, "trialTemplate": {},
                    "parameters": [{"name": "lr", "parameterType": "double",
                                    "feasibleSpace": {"min": "0.01", "max": "0.1"}}]}}
    resp = api.post("/apis/kubeflow.org/v1beta1/namespaces/default/experiments", json=exp)
    assert resp.status_code == 422
    assert [c["field"] for c in resp.json()["details"]["causes"]] == ["spec.objective.type"]
    wrong_url = api.post("/apis/kubeflow.org/v1/namespaces/default/pytorchjobs", json=tfjob("x"))
    assert wrong_url.status_code == 400 and "URL" in wrong_url.json()["message"]


def test_patch_and_status(api: httpx.Client) -> None:
    api.post(TFJOBS, json=tfjob("mnist"))
    merged = api.patch(f"{TFJOBS}/mnist", content=json.dumps(
        {"metadata": {"labels": {"stage": "dev"}}, "spec": {"runPolicy": None}}),
        headers={"content-type": "application/merge-patch+json"})
    assert merged.status_code == 200, merged.text
    assert merged.json()["metadata"]["labels"] == {"stage": "dev"}
    assert "runPolicy" not in merged.json()["spec"]
    ops = [{"op": "replace", "path": "/spec/tfReplicaSpecs/Worker/replicas", "value": 3},
           {"op": "add", "path": "/metadata/annotations", "value": {"note": "x"}}]
    patched = api.patch(f"{TFJOBS}/mnist", content=json.dumps(ops),
                        headers={"content-type": "application/json-patch+json"})
    assert patched.json()["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] == 3
    generation = patched.json()["metadata"]["generation"]
    bad = api.patch(f"{TFJOBS}/mnist", content=json.dumps([{"op": "remove", "path": "/nope"}]),
                    headers={"content-type": "application/json-patch+json"})
    assert bad.status_code == 400 and "/nope" in bad.json()["message"]

    status = {"conditions": [{"type": "Running", "status": "True"}]}
    put = api.put(f"{TFJOBS}/mnist/status", json={"status": status})
    assert put.json()["status"] == status
    assert put.json()["metadata"]["generation"] == generation  # status is not the spec
    # Writing the spec never overwrites the status a controller wrote.
    spec_only = api.get(f"{TFJOBS}/mnist").json()
    spec_only.pop("status")
    assert api.put(f"{TFJOBS}/mnist", json=spec_only).json()["status"] == status


def test_watch_reports_changes(api: httpx.Client) -> None:
    events: list[dict[str, Any]] = []
    start = api.get(TFJOBS).json()["metadata"]["resourceVersion"]

    def watch() -> None:
        # In process the answer comes whole when the watch times out; over HTTP it streams.
        with api.stream("GET", TFJOBS, params={"watch": "true", "resourceVersion": start,
                                               "timeoutSeconds": 2}) as resp:
            events.extend(json.loads(line) for line in resp.iter_lines() if line)

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.3)
    api.post(TFJOBS, json=tfjob("mnist"))
    api.put(f"{TFJOBS}/mnist/status", json={"status": {"phase": "Running"}})
    api.delete(f"{TFJOBS}/mnist")
    t.join(10)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions)


def test_kinds_without_a_controller_are_stored_with_an_event(api: httpx.Client) -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget",
              "metadata": {"name": "w1"}, "spec": {"anything": [1, {"goes": True}]}}
    made = api.post("/apis/example.com/v1/namespaces/default/widgets", json=widget)
    assert made.status_code == 201
    assert made.json()["spec"] == widget["spec"]
    events = api.get("/api/v1/namespaces/default/events", params={
        "fieldSelector": "involvedObject.kind=Widget,involvedObject.name=w1"}).json()["items"]
    assert [e["reason"] for e in events] == ["NoController"]
    assert "no controller handles Widget" in events[0]["message"]
    logs = api.get("/apis/example.com/v1/namespaces/default/widgets/w1/log")
    assert logs.status_code == 404 and "no controller" in logs.json()["message"]
    profile = {"apiVersion": "kubeflow.org/v1", "kind": "Profile", "metadata": {"name": "alice"},
               "spec": {"owner": {"kind": "User", "name": "alice@example.com"}}}
    made = api.post("/apis/kubeflow.org/v1/profiles", json=profile)  # cluster-scoped
    assert made.status_code == 201 and "namespace" not in made.json()["metadata"]
    assert api.get("/apis/kubeflow.org/v1/profiles/alice").status_code == 200


def test_volume_claim_controller(api: httpx.Client, fy_home: Path) -> None:
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    url = "/api/v1/namespaces/default/persistentvolumeclaims"
    assert api.post(url, json=pvc).status_code == 201
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        obj = api.get(f"{url}/data").json()
        if (obj.get("status") or {}).get("phase") == "Bound":
            break
        time.sleep(0.1)
    assert obj["status"]["phase"] == "Bound" and obj["status"]["capacity"] == {"storage": "1Gi"}
    assert (fy_home / "volumes" / "data").is_dir()
    events = api.get("/api/v1/namespaces/default/events", params={
        "fieldSelector": "involvedObject.kind=PersistentVolumeClaim,involvedObject.name=data"})
    assert [e["reason"] for e in events.json()["items"]] == ["Provisioned"]
    api.delete(f"{url}/data")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (fy_home / "volumes" / "data").exists():
        time.sleep(0.1)
    assert not (fy_home / "volumes" / "data").exists()


def test_body_limit_and_errors(api: httpx.Client) -> None:
    big = api.post(TFJOBS, content=b"{" + b" " * (33 * 2**20) + b"}",
                   headers={"content-type": "application/json"})
    assert big.status_code == 413 and "larger than" in big.json()["message"]
    assert api.post(TFJOBS, content=b"not json",
                    headers={"content-type": "application/json"}).status_code == 400
    missing = api.get("/apis/v2beta1/nothing-here")
    assert missing.status_code == 404 and missing.json()["code"] == 5


def test_url_parts_are_checked(api: httpx.Client) -> None:
    # These parts also name files (controllers' logs): nothing like '..' gets through.
    assert api.get("/apis/%2E%2E/v1/namespaces/default/widgets/w/log").status_code == 404
    assert api.get("/apis/example.com/v1/namespaces/%2E%2E/widgets/w").status_code == 400
    assert api.get("/apis/example.com/v1/namespaces/default/widgets/Bad_Name").status_code == 400
    assert api.get("/apis/example.com/V1!/namespaces/default/widgets").status_code == 404


def test_apply_service_creates_then_configures(api: httpx.Client) -> None:
    import asyncio

    from flowyard.services import resources
    from flowyard.services.context import Services
    from flowyard.services.launcher import Launcher
    from flowyard.store import open_store

    store = open_store()
    svc = Services(store, Launcher(asyncio.new_event_loop(), store))
    job = tfjob("applied")
    assert resources.apply(svc, job, "team-a")[0] == "created"
    assert resources.apply(svc, job, "team-a")[0] == "unchanged"
    job["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] = 5
    action, obj = resources.apply(svc, job, "team-a")
    assert action == "configured" and obj["metadata"]["generation"] == 2
    assert api.get(f"{TFJOBS}/applied").json()["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] == 5
