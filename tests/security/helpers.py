"""Talking to a real `flowyard up` as a user does: compile with the kfp SDK, submit through the
KFP REST API, read task outputs' artifact ids from the run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from kfp import compiler

API = "/apis/v2beta1"
DONE = ("SUCCEEDED", "FAILED", "CANCELED")


def spec_of(pipeline: Any, tmp: Path) -> dict[str, Any]:
    path = tmp / f"{pipeline.name}.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    return dict(yaml.safe_load(path.read_text()))


def submit(url: str, spec: dict[str, Any], params: dict[str, Any] | None = None,
           name: str = "run", experiment_id: str | None = None) -> str:
    body: dict[str, Any] = {"display_name": name, "pipeline_spec": spec,
                            "runtime_config": {"parameters": params or {}}}
    if experiment_id:
        body["experiment_id"] = experiment_id
    resp = httpx.post(f"{url}{API}/runs", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["run_id"])


def wait(url: str, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{url}{API}/runs/{run_id}", timeout=30).json()
        if run.get("state") in DONE:
            return dict(run)
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not finish")


def tasks(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["display_name"]: t for t in run.get("run_details", {}).get("task_details", [])}


def artifact_id(run: dict[str, Any], task: str, output: str) -> str:
    return str(tasks(run)[task]["outputs"][output]["artifact_ids"][0])
