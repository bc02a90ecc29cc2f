"""flowyard.Client: the same calls in-process (no server) and over HTTP to `flowyard up`."""

from __future__ import annotations

import flowyard
from tests.api.components import adder
from tests.api.conftest import Server

PVC = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "scratch"},
       "spec": {"resources": {"requests": {"storage": "1Gi"}}}}


def _exercise(client: flowyard.Client) -> None:
    exp = client.create_experiment("client-exp")
    run = client.create_run(adder, {"x": 3, "y": 4}, run_name="via-client",
                            experiment_id=exp["experiment_id"])
    done = client.wait_for_run(run["run_id"], timeout=120)
    assert done["state"] == "SUCCEEDED"
    assert {t["display_name"] for t in done["run_details"]["task_details"]} >= {"add", "add-2"}
    listed = client.list_runs(experiment_id=exp["experiment_id"])
    assert [r["display_name"] for r in listed["runs"]] == ["via-client"]

    action, obj = client.apply(PVC)
    assert action == "created" and obj["metadata"]["resourceVersion"]
    bound = client.wait("pvc", "scratch", "Bound", timeout=30)
    assert bound["status"]["phase"] == "Bound"
    assert [e["reason"] for e in client.events("pvc", "scratch")] == ["Provisioned"]
    assert client.apply(PVC)[0] == "unchanged"
    client.delete("pvc", "scratch")
    assert client.wait("pvc", "scratch", "delete", timeout=10) == {}


def test_in_process() -> None:
    client = flowyard.Client()
    assert client.url is None
    _exercise(client)


def test_over_http(server: Server) -> None:
    client = flowyard.Client(server.url)
    _exercise(client)
    # Without a URL, a client finds the server serving this FLOWYARD_HOME.
    assert flowyard.Client().url == server.url
