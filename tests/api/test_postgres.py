"""The control plane on PostgreSQL: runs, listing, schedules and resources (watch included)
behave as on SQLite."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from kfp import compiler

import flowyard
from flowyard.client import close_local, local_http
from tests.api.components import adder

pytestmark = pytest.mark.postgres
API = "/apis/v2beta1"


def test_control_plane_on_postgres(pg_url: str, tmp_path: Path) -> None:
    try:
        _exercise(tmp_path)
    finally:
        close_local()  # before the fixture drops the database under the control plane


def _exercise(tmp_path: Path) -> None:
    client = flowyard.Client()
    run = client.create_run(adder, {"x": 2}, run_name="on-pg")
    assert client.wait_for_run(run["run_id"], timeout=120)["state"] == "SUCCEEDED"
    found = client.list_runs(filter=json.dumps({"predicates": [
        {"operation": "IS_SUBSTRING", "key": "display_name", "stringValue": "on-p"}]}))
    assert [r["run_id"] for r in found["runs"]] == [run["run_id"]]

    api = local_http()
    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(adder, str(path))
    rr = api.post(f"{API}/recurringruns", json={
        "display_name": "pg-every-second", "pipeline_spec": yaml.safe_load(path.read_text()),
        "trigger": {"periodic_schedule": {"interval_second": "1"}}}).json()
    assert rr["status"] == "ENABLED"

    tfjobs = "/apis/kubeflow.org/v1/namespaces/default/tfjobs"
    job = {"apiVersion": "kubeflow.org/v1", "kind": "TFJob", "metadata": {"name": "seed"},
           "spec": {"tfReplicaSpecs": {"Worker": {"template": {"spec": {"containers": [
               {"name": "tensorflow", "image": "python:3.11"}]}}}}}}
    assert api.post(tfjobs, json=job).status_code == 201
    start = api.get(tfjobs).json()["metadata"]["resourceVersion"]
    job["metadata"]["name"] = "pg"
    assert api.post(tfjobs, json=job).status_code == 201
    api.delete(f"{tfjobs}/pg")
    events = api.get(tfjobs, params={"watch": "1", "resourceVersion": start,
                                     "timeoutSeconds": 1}).text.splitlines()
    assert [json.loads(e)["type"] for e in events] == ["ADDED", "DELETED"]
    # The in-process client has no scheduler; the schedule is stored for `flowyard up`.
    time.sleep(0.1)
    assert client.list_runs()["total_size"] == 1
