"""The real kfp.Client (kfp 2.16, unmodified) against `flowyard up`: what a notebook written
for Kubeflow does, end to end."""

from __future__ import annotations

import json
import time
from pathlib import Path

import kfp
import pytest
from kfp import compiler

from tests.api.components import adder, sleeper
from tests.api.conftest import Server

pytestmark = pytest.mark.filterwarnings("ignore:This client only works:FutureWarning")


def _client(server: Server) -> kfp.Client:
    return kfp.Client(host=server.url)


def _wait_state(client: kfp.Client, run_id: str, states: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get_run(run_id).state
        if state in states:
            return state
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still {state} after {timeout}s")


def test_experiment_pipeline_version_and_runs(server: Server, tmp_path: Path) -> None:
    client = _client(server)
    exp = client.create_experiment("kfp-client", description="from the real client")
    assert client.get_experiment(experiment_id=exp.experiment_id).display_name == "kfp-client"
    assert client.get_experiment(experiment_name="kfp-client").experiment_id == exp.experiment_id
    # create_experiment finds an existing experiment by name rather than failing.
    assert client.create_experiment("kfp-client").experiment_id == exp.experiment_id

    package = tmp_path / "adder.yaml"
    compiler.Compiler().compile(adder, str(package))
    pipe = client.upload_pipeline(str(package), pipeline_name="adder-pipeline")
    assert client.get_pipeline_id("adder-pipeline") == pipe.pipeline_id
    version = client.upload_pipeline_version(str(package), pipeline_version_name="v2",
                                             pipeline_id=pipe.pipeline_id)
    versions = client.list_pipeline_versions(pipe.pipeline_id).pipeline_versions
    assert sorted(v.display_name for v in versions) == ["adder-pipeline", "v2"]

    by_version = client.run_pipeline(exp.experiment_id, "by-version",
                                     pipeline_id=pipe.pipeline_id,
                                     version_id=version.pipeline_version_id,
                                     params={"x": 5, "y": 10})
    done = client.wait_for_run_completion(by_version.run_id, timeout=120, sleep_duration=1)
    assert done.state == "SUCCEEDED"
    assert done.pipeline_version_reference.pipeline_version_id == version.pipeline_version_id
    tasks = {t.display_name: t for t in done.run_details.task_details}
    assert {"add", "add-2"} <= set(tasks)
    assert all(t.state == "SUCCEEDED" for t in tasks.values() if t.display_name.startswith("add"))
    assert tasks["add"].start_time is not None and tasks["add"].end_time is not None
    assert done.runtime_config.parameters == {"x": 5, "y": 10}

    from_func = client.create_run_from_pipeline_func(adder, arguments={"x": 1, "y": 1},
                                                     experiment_name="kfp-client",
                                                     run_name="from-func")
    assert from_func.wait_for_run_completion(120).state == "SUCCEEDED"

    runs = client.list_runs(experiment_id=exp.experiment_id, sort_by="created_at desc")
    assert runs.total_size == 2
    assert [r.display_name for r in runs.runs] == ["from-func", "by-version"]
    only = client.list_runs(filter=json.dumps({"predicates": [
        {"operation": "EQUALS", "key": "display_name", "stringValue": "by-version"}]}))
    assert [r.run_id for r in only.runs] == [by_version.run_id]
    page = client.list_runs(page_size=1, experiment_id=exp.experiment_id)
    assert len(page.runs) == 1 and page.next_page_token
    rest = client.list_runs(page_size=1, page_token=page.next_page_token,
                            experiment_id=exp.experiment_id)
    assert rest.runs[0].run_id != page.runs[0].run_id

    client.archive_run(by_version.run_id)
    assert client.get_run(by_version.run_id).storage_state == "ARCHIVED"
    client.delete_run(from_func.run_id)
    with pytest.raises(kfp.client.client.kfp_server_api.ApiException) as info:
        client.get_run(from_func.run_id)
    assert info.value.status == 404
    assert json.loads(info.value.body)["code"] == 5


def test_terminate_a_long_run(server: Server) -> None:
    client = _client(server)
    result = client.create_run_from_pipeline_func(sleeper, arguments={"seconds": 120})
    _wait_state(client, result.run_id, {"RUNNING"})
    # The task has started (its process sleeps) before we stop it.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        details = client.get_run(result.run_id).run_details
        if details and any(t.display_name == "nap" and t.state == "RUNNING"
                           for t in details.task_details or []):
            break
        time.sleep(0.2)
    client.terminate_run(result.run_id)
    assert _wait_state(client, result.run_id, {"CANCELED"}, timeout=30) == "CANCELED"
    run = client.get_run(result.run_id)
    assert run.finished_at is not None


def test_recurring_run_fires(server: Server, tmp_path: Path) -> None:
    client = _client(server)
    exp = client.create_experiment("scheduled")
    package = tmp_path / "adder.yaml"
    compiler.Compiler().compile(adder, str(package))
    rr = client.create_recurring_run(exp.experiment_id, "every-second", interval_second=1,
                                     pipeline_package_path=str(package), params={"x": 2},
                                     max_concurrency=2)
    assert rr.status == "ENABLED"
    assert client.get_recurring_run(rr.recurring_run_id).trigger.periodic_schedule \
        .interval_second == "1"
    deadline = time.monotonic() + 60
    fired: list = []
    while time.monotonic() < deadline and len(fired) < 2:
        fired = [r for r in client.list_runs(experiment_id=exp.experiment_id).runs or []
                 if r.recurring_run_id == rr.recurring_run_id]
        time.sleep(0.3)
    assert len(fired) >= 2
    for run in fired[:2]:
        assert client.wait_for_run_completion(run.run_id, 120, 1).state == "SUCCEEDED"
    client.disable_recurring_run(rr.recurring_run_id)
    assert client.get_recurring_run(rr.recurring_run_id).status == "DISABLED"
    listed = client.list_recurring_runs(experiment_id=exp.experiment_id)
    assert [r.recurring_run_id for r in listed.recurring_runs] == [rr.recurring_run_id]
    client.delete_recurring_run(rr.recurring_run_id)
    assert not client.list_recurring_runs(experiment_id=exp.experiment_id).recurring_runs
