"""`flowyard up` killed with SIGKILL while runs are in flight, then started again: every run
finishes, no task that had finished runs again, and the recurring run keeps its schedule."""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from pathlib import Path

import httpx
import yaml
from kfp import compiler

from tests.api.components import one_step, two_steps
from tests.api.conftest import Server

API = "/apis/v2beta1"


def _spec(pipeline: object, tmp: Path) -> dict:
    path = tmp / "p.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    return yaml.safe_load(path.read_text())


def _tasks(url: str, run_id: str) -> dict[str, str]:
    run = httpx.get(f"{url}{API}/runs/{run_id}").json()
    return {t["display_name"]: t["state"] for t in run["run_details"]["task_details"]}


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _scheduled(url: str, rr_id: str) -> list[datetime]:
    runs = httpx.get(f"{url}{API}/runs", params={"page_size": 1000}).json().get("runs", [])
    return sorted(datetime.fromisoformat(r["scheduled_at"].replace("Z", "+00:00"))
                  for r in runs if r.get("recurring_run_id") == rr_id)


def test_sigkill_and_restart(server_factory: type[Server], tmp_path: Path) -> None:
    # Tasks ask for one CPU each; enough for the three sleeping ones and the schedule's.
    env = {"FLOWYARD_CPUS": "8"}
    srv = server_factory(env).start()
    marks = tmp_path / "marks"
    marks.mkdir()
    spec = _spec(two_steps, tmp_path)
    run_ids = []
    for i in range(3):
        resp = httpx.post(f"{srv.url}{API}/runs", json={
            "display_name": f"in-flight-{i}", "pipeline_spec": spec,
            "runtime_config": {"parameters": {"path": str(marks / f"{i}.txt")}}})
        assert resp.status_code == 200, resp.text
        run_ids.append(resp.json()["run_id"])
    rr = httpx.post(f"{srv.url}{API}/recurringruns", json={
        "display_name": "every-2s", "pipeline_spec": _spec(one_step, tmp_path),
        "trigger": {"periodic_schedule": {"interval_second": "2"}}, "max_concurrency": "1",
        "mode": "ENABLE"}).json()
    # Kill once every run's first task has finished and its second is sleeping.
    _wait(lambda: all(_tasks(srv.url, r).get("mark") == "SUCCEEDED"
                      and _tasks(srv.url, r).get("slow-mark") == "RUNNING" for r in run_ids),
          90, "the first tasks to finish")
    _wait(lambda: len(_scheduled(srv.url, rr["recurring_run_id"])) >= 1, 30, "a first fire")
    srv.kill()
    time.sleep(3)  # the schedule misses at least one fire while the server is down

    again = server_factory(env).start()
    for run_id in run_ids:
        _wait(lambda run_id=run_id: httpx.get(f"{again.url}{API}/runs/{run_id}").json()[
            "state"] in ("SUCCEEDED", "FAILED", "CANCELED"), 120, f"run {run_id}")
        assert httpx.get(f"{again.url}{API}/runs/{run_id}").json()["state"] == "SUCCEEDED"
    for i in range(3):
        lines = (marks / f"{i}.txt").read_text().splitlines()
        assert lines.count("first") == 1, lines  # the finished task was not executed again
        assert lines.count("second") == 1, lines
    # The schedule goes on from where it was: fires every 2 s with none repeated or skipped.
    _wait(lambda: len(_scheduled(again.url, rr["recurring_run_id"])) >= 4, 60, "more fires")
    times = _scheduled(again.url, rr["recurring_run_id"])
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
    assert gaps == {2.0}, times
    assert httpx.get(f"{again.url}{API}/recurringruns/{rr['recurring_run_id']}").json()[
        "status"] == "ENABLED"


def test_clean_stop_leaves_runs_to_resume(server_factory: type[Server], tmp_path: Path) -> None:
    """Ctrl-C on `flowyard up` is not a cancel: the run is left RUNNING with no driver and
    the next start finishes it."""
    from flowyard.store import open_store

    srv = server_factory().start()
    marks = tmp_path / "m.txt"
    run_id = httpx.post(f"{srv.url}{API}/runs", json={
        "display_name": "interrupted", "pipeline_spec": _spec(two_steps, tmp_path),
        "runtime_config": {"parameters": {"path": str(marks)}}}).json()["run_id"]
    _wait(lambda: _tasks(srv.url, run_id).get("slow-mark") == "RUNNING", 60, "the slow task")
    srv.stop()  # SIGINT
    row = open_store().get_run(run_id)
    assert row is not None and (row.state, row.driver) == ("RUNNING", None)

    again = server_factory().start()
    _wait(lambda: httpx.get(f"{again.url}{API}/runs/{run_id}").json()["state"] == "SUCCEEDED",
          60, "the resumed run")
    assert marks.read_text().splitlines() == ["first", "second"]
