"""200 runs submitted at once through the API are all recorded and all complete."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml
from kfp import compiler

from tests.api.components import one_step
from tests.api.conftest import Server

API = "/apis/v2beta1"
N = 200


def test_200_concurrent_submissions(server_factory: type[Server], tmp_path: Path) -> None:
    srv = server_factory({"FLOWYARD_CPUS": "16"}).start()
    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(one_step, str(path))
    spec = yaml.safe_load(path.read_text())
    exp = httpx.post(f"{srv.url}{API}/experiments", json={"display_name": "burst"}).json()

    def submit(i: int) -> str:
        with httpx.Client(timeout=120) as http:
            resp = http.post(f"{srv.url}{API}/runs", json={
                "display_name": f"burst-{i}", "experiment_id": exp["experiment_id"],
                "pipeline_spec": spec, "runtime_config": {"parameters": {"x": i}}})
        assert resp.status_code == 200, resp.text
        return resp.json()["run_id"]

    with ThreadPoolExecutor(max_workers=50) as pool:
        run_ids = list(pool.map(submit, range(N)))
    assert len(set(run_ids)) == N

    params = {"experiment_id": exp["experiment_id"], "page_size": 1000}
    listed = httpx.get(f"{srv.url}{API}/runs", params=params).json()
    assert listed["total_size"] == N
    deadline = time.monotonic() + 300
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        runs = httpx.get(f"{srv.url}{API}/runs", params=params, timeout=60).json()["runs"]
        states = {r["run_id"]: r["state"] for r in runs}
        if all(s in ("SUCCEEDED", "FAILED", "CANCELED") for s in states.values()):
            break
        time.sleep(1)
    assert set(states) == set(run_ids)
    assert set(states.values()) == {"SUCCEEDED"}, {s: list(states.values()).count(s)
                                                   for s in set(states.values())}
    # Each run computed its own result from its own argument.
    sample = httpx.get(f"{srv.url}{API}/runs/{run_ids[17]}").json()
    assert sample["runtime_config"]["parameters"] == {"x": 17}
