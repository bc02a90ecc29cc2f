"""Issue 8, data safety item 7: the first runs submitted at once on a fresh home raced to
create the "Default" experiment; the losers got `UNIQUE constraint failed: experiments.name`
as a 500 and their runs were lost (3 of 4 tries). Every one must be recorded, on SQLite and
PostgreSQL, from threads of one server and from separate processes."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kfp import compiler

from tests.api.components import adder
from tests.api.conftest import Server

API = "/apis/v2beta1"
THREADS = 16
PROCESSES = 4


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return "sqlite"


@pytest.fixture
def spec(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "adder.yaml"
    compiler.Compiler().compile(adder, str(path))
    return dict(yaml.safe_load(path.read_text()))


def test_first_submissions_through_the_api_are_all_recorded(
        database: str, fy_home: Path, spec: dict[str, Any]) -> None:
    srv = Server(fy_home).start()
    try:
        start = threading.Barrier(THREADS)

        def submit(i: int) -> httpx.Response:
            with httpx.Client(base_url=srv.url, timeout=120) as http:
                http.get(f"{API}/healthz")  # connect first, so the posts leave together
                start.wait()
                return http.post(f"{API}/runs", json={
                    "display_name": f"first-{i}", "pipeline_spec": spec,
                    "runtime_config": {"parameters": {"x": i}}})

        with ThreadPoolExecutor(THREADS) as pool:
            answers = list(pool.map(submit, range(THREADS)))
        assert [a.status_code for a in answers] == [200] * THREADS, [
            a.text for a in answers if a.status_code != 200]
        experiments = httpx.get(f"{srv.url}{API}/experiments").json()["experiments"]
        assert [e["display_name"] for e in experiments] == ["Default"]
        runs = httpx.get(f"{srv.url}{API}/runs", params={"page_size": 100}).json()["runs"]
        assert sorted(r["display_name"] for r in runs) == sorted(
            f"first-{i}" for i in range(THREADS))
        assert {r["experiment_id"] for r in runs} == {experiments[0]["experiment_id"]}
    finally:
        srv.stop()


def _submit_in_process(barrier: Any, spec: dict[str, Any], i: int, out: Any) -> None:
    # What `flowyard run` does first: record the PENDING run under its experiment.
    from flowyard.pipelines.loader import load_pipeline
    from flowyard.pipelines.runner import submit

    doc = load_pipeline(spec)
    barrier.wait()
    try:
        out.put(("ok", submit(doc, {"x": i}, run_name=f"proc-{i}")))
    except Exception as exc:  # the test reports what the losing process saw
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def test_first_submissions_from_processes_are_all_recorded(
        database: str, fy_home: Path, spec: dict[str, Any]) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_submit_in_process, args=(barrier, spec, i, out))
             for i in range(PROCESSES)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert [r[0] for r in results] == ["ok"] * PROCESSES, results
    from flowyard.store import open_store

    store = open_store()
    default = store.experiment_by_name("Default", create=False)
    assert default is not None
    runs = store.list_runs(limit=100)
    assert sorted(r.display_name for r in runs) == sorted(f"proc-{i}" for i in range(PROCESSES))
    assert {r.experiment_id for r in runs} == {default.id}


def test_first_runs_into_new_experiments_from_threads(database: str, spec: dict[str, Any]
                                                      ) -> None:
    """`flowyard run --experiment NAME` makes NAME on first use: the same get-or-create,
    tried here in many rounds, each a new name that every thread asks for at once."""
    from flowyard.pipelines.loader import load_pipeline
    from flowyard.pipelines.runner import submit
    from flowyard.store import open_store

    doc, rounds = load_pipeline(spec), 5
    for n in range(rounds):
        start = threading.Barrier(THREADS)

        def first(i: int, n: int = n, start: threading.Barrier = start) -> str:
            start.wait()
            return submit(doc, {"x": i}, experiment=f"new-{n}", run_name=f"r{n}-{i}")

        with ThreadPoolExecutor(THREADS) as pool:
            assert len(set(pool.map(first, range(THREADS)))) == THREADS
    store = open_store()
    runs = store.list_runs(limit=1000)
    assert len(runs) == rounds * THREADS
    for n in range(rounds):
        exp = store.experiment_by_name(f"new-{n}", create=False)
        assert exp is not None
        assert sum(r.experiment_id == exp.id for r in runs) == THREADS
