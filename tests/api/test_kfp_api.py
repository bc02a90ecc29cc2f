"""KFP v2beta1 behaviour the client relies on, on the real app in this process: experiments,
pipelines and versions, runs' errors, retry, archive, and what every error looks like."""

from __future__ import annotations

import io
import json
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kfp import compiler

from flowyard.client import local_http
from tests.api.components import adder, flaky_pipeline

API = "/apis/v2beta1"


@pytest.fixture
def api() -> httpx.Client:
    return local_http()


def _yaml(pipeline: Any, tmp_path: Path) -> bytes:
    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    return path.read_bytes()


def _wait(api: httpx.Client, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = api.get(f"{API}/runs/{run_id}").json()
        if run["state"] in ("SUCCEEDED", "FAILED", "CANCELED"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


def test_experiments(api: httpx.Client) -> None:
    exp = api.post(f"{API}/experiments", json={"display_name": "e1", "description": "d"}).json()
    assert exp["storage_state"] == "AVAILABLE" and exp["created_at"].endswith("Z")
    dup = api.post(f"{API}/experiments", json={"display_name": "e1"})
    assert dup.status_code == 409 and dup.json()["code"] == 6
    assert api.post(f"{API}/experiments", json={}).json()["message"].startswith("display_name")
    api.post(f"{API}/experiments/{exp['experiment_id']}:archive")
    assert api.get(f"{API}/experiments/{exp['experiment_id']}").json()["storage_state"] == \
        "ARCHIVED"
    archived = api.get(f"{API}/experiments", params={"filter": json.dumps({"predicates": [
        {"operation": "EQUALS", "key": "storage_state", "string_value": "ARCHIVED"}]})}).json()
    assert [e["display_name"] for e in archived["experiments"]] == ["e1"]
    api.post(f"{API}/experiments/{exp['experiment_id']}:unarchive")
    assert api.delete(f"{API}/experiments/{exp['experiment_id']}").status_code == 200
    assert api.get(f"{API}/experiments/{exp['experiment_id']}").status_code == 404


def test_pipelines_and_versions(api: httpx.Client, tmp_path: Path) -> None:
    data = _yaml(adder, tmp_path)
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tar:
        info = tarfile.TarInfo("pipeline.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    pipe = api.post(f"{API}/pipelines/upload", params={"name": "adder"},
                    files={"uploadfile": ("adder.tar.gz", tgz.getvalue())}).json()
    assert pipe["display_name"] == "adder"
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("pipeline.yaml", data)
    ver = api.post(f"{API}/pipelines/upload_version", params={
        "name": "v2", "pipelineid": pipe["pipeline_id"]},
        files={"uploadfile": ("v2.zip", zipped.getvalue())}).json()
    assert ver["pipeline_spec"]["pipelineInfo"]["name"] == "adder"
    assert api.get(f"{API}/pipelines/names/adder").json()["pipeline_id"] == pipe["pipeline_id"]
    created = api.post(f"{API}/pipelines/create", json={
        "pipeline": {"display_name": "from-spec"},
        "pipeline_version": {"display_name": "first",
                             "pipeline_spec": yaml.safe_load(data)}}).json()
    versions = api.get(f"{API}/pipelines/{created['pipeline_id']}/versions").json()
    assert [v["display_name"] for v in versions["pipeline_versions"]] == ["first"]

    bad = api.post(f"{API}/pipelines/upload", files={"uploadfile": ("x.yaml", b"a: [1")})
    assert bad.status_code == 400 and "uploadfile" in bad.json()["message"]
    not_ir = api.post(f"{API}/pipelines/upload", files={"uploadfile": ("x.yaml", b"a: 1")})
    assert not_ir.status_code == 400 and "not a compiled KFP pipeline" in not_ir.json()["message"]

    # A run by pipeline alone uses its newest version.
    run = api.post(f"{API}/runs", json={
        "display_name": "latest", "pipeline_version_reference": {
            "pipeline_id": pipe["pipeline_id"]}}).json()
    assert run["pipeline_version_reference"]["pipeline_version_id"] == ver["pipeline_version_id"]
    assert _wait(api, run["run_id"])["state"] == "SUCCEEDED"

    refused = api.delete(f"{API}/pipelines/{pipe['pipeline_id']}")
    assert refused.status_code == 400 and "cascade" in refused.json()["message"]
    assert api.delete(f"{API}/pipelines/{pipe['pipeline_id']}",
                      params={"cascade": "true"}).status_code == 200


def test_run_errors_are_4xx_with_a_message(api: httpx.Client, tmp_path: Path) -> None:
    spec = yaml.safe_load(_yaml(adder, tmp_path))
    cases = [
        ({"display_name": "r"}, 400, "needs a pipeline"),
        ({"pipeline_spec": spec, "runtime_config": {"parameters": {"z": 1}}}, 400, "'z'"),
        ({"pipeline_spec": spec, "runtime_config": {"parameters": {"x": "ten"}}}, 400, "x"),
        ({"pipeline_spec": {"root": 1}}, 400, "pipeline_spec"),
        ({"pipeline_version_reference": {"pipeline_id": "nope", "pipeline_version_id": "no"}},
         404, "no pipeline version"),
        ({"pipeline_spec": spec, "experiment_id": "missing"}, 404, "no experiment"),
    ]
    for body, status, message in cases:
        resp = api.post(f"{API}/runs", json=body)
        assert resp.status_code == status, (body, resp.text)
        assert message in resp.json()["message"], resp.json()
    assert api.post(f"{API}/runs/none:terminate").status_code == 404
    assert api.get(f"{API}/runs", params={"page_size": "many"}).status_code == 400


def test_retry_a_failed_run(api: httpx.Client, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    spec = yaml.safe_load(_yaml(flaky_pipeline, tmp_path))
    run = api.post(f"{API}/runs", json={"display_name": "flaky", "pipeline_spec": spec,
                                        "runtime_config": {"parameters": {
                                            "path": str(flag),
                                            "marks": str(tmp_path / "flag.marks")}}})
    run_id = run.json()["run_id"]
    failed = _wait(api, run_id)
    assert failed["state"] == "FAILED" and "first attempt fails" in failed["error"]["message"]
    assert api.post(f"{API}/runs/{run_id}:retry").status_code == 200
    assert _wait(api, run_id)["state"] == "SUCCEEDED"
    # The task that had succeeded was not executed again.
    assert (tmp_path / "flag.marks").read_text().splitlines() == ["before"]
    again = api.post(f"{API}/runs/{run_id}:retry")
    assert again.status_code == 400 and "SUCCEEDED" in again.json()["message"]
    api.post(f"{API}/runs/{run_id}:archive")
    listed = api.get(f"{API}/runs", params={"filter": json.dumps({"predicates": [
        {"operation": "EQUALS", "key": "storage_state", "stringValue": "AVAILABLE"}]})}).json()
    assert run_id not in [r["run_id"] for r in listed.get("runs", [])]
