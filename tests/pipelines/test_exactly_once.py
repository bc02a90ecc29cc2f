"""Exactly once (issue 8, item 8): SIGKILL of `flowyard run` and of `flowyard up` at random
points of a 10-task chain, 5 times each. The task in flight when the driver dies keeps its
process (its supervisor records the exit) and is adopted on resume; every task executes
exactly once, as counted by the components themselves, and every run finishes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from flowyard.store import open_store
from tests.api.conftest import Server

CHAIN = '''
from kfp import dsl


@dsl.component
def step(counter: str, i: int, prev: str) -> str:
    import time

    with open(counter, "a") as f:
        f.write(f"{i}\\n")
    time.sleep(0.25)  # long enough that kills land while a step runs
    return prev + f"{i},"


@dsl.pipeline
def chain(counter: str) -> str:
    task = step(counter=counter, i=0, prev="")
    for i in range(1, 10):
        task = step(counter=counter, i=i, prev=task.output)
    return task.output
'''
EXPECTED = "".join(f"{i}," for i in range(10))
SEED = int(os.environ.get("FLOWYARD_CHAOS_SEED", "8"))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "flowyard.cli.main", *args]


def _wait(predicate, what: str, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _kill_point(rng: random.Random, counter: Path, alive) -> None:  # type: ignore[no-untyped-def]
    """Wait for a random point of the chain: until step k (drawn from all ten) has started, then
    a random part of a step's length. A plain random delay from submission mostly lands before
    the first step (the CLI's start-up and compiling take longer than the delay) or in the first
    few steps, so the later steps would never be killed."""
    k = rng.randint(1, 10)

    def started() -> bool:
        lines = counter.read_text().split() if counter.exists() else []
        return len(lines) >= k or not alive()

    _wait(started, f"step {k - 1} to start", timeout=120)
    time.sleep(rng.uniform(0.0, 0.3))


def _running(run_id: str) -> list[str]:
    return [t.name for t in open_store().tasks(run_id)
            if t.state == "RUNNING" and t.kind == "container"]


def _assert_each_once(counter: Path) -> None:
    counts = Counter(counter.read_text().split())
    assert counts == Counter({str(i): 1 for i in range(10)}), counts


@pytest.mark.slow
def test_sigkill_of_flowyard_run_runs_every_task_once(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    source = tmp_path / "chain.py"
    source.write_text(textwrap.dedent(CHAIN))
    store = open_store()
    adopted = mid_task = 0
    for attempt in range(5):
        counter = tmp_path / f"count-{attempt}"
        known = {r.id for r in store.list_runs()}
        proc = subprocess.Popen(_cli("run", str(source), "--no-cache", "-p", f"counter={counter}"),
                                start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        run_id = _wait(lambda known=known: next(
            (r.id for r in store.list_runs() if r.id not in known), None), "the run to be recorded")
        # Killed at a random point, then the resume is killed too, then resumed to the end.
        for _kill in range(2):
            _kill_point(rng, counter, lambda proc=proc: proc.poll() is None)
            running = _running(run_id)
            os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its zygote: a crash
            mid_task += bool(running)
            print(f"flowyard run, attempt {attempt}: SIGKILL with {running or 'no task'} running")
            proc.wait()
            row = store.get_run(run_id)
            assert row is not None
            if row.state == "SUCCEEDED":
                break
            proc = subprocess.Popen(_cli("run", "--resume", run_id), start_new_session=True,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = proc.communicate(timeout=120)
        row = store.get_run(run_id)
        assert row is not None
        if row.state != "SUCCEEDED":  # the last resume was killed after it had finished
            assert proc.returncode in (0, -signal.SIGKILL), err
        assert row.state == "SUCCEEDED", (row.state, row.error, err)
        assert row.outputs == {"Output": EXPECTED}
        _assert_each_once(counter)
        adopted += sum(e.reason == "Adopted" for e in store.events(run_id))
    assert adopted, "no kill landed while a task ran: the test proved nothing"
    # Kills land at a random step and a random moment of it, so most find a step running.
    assert mid_task >= 3, f"only {mid_task} of the kills landed while a task ran"


def _spec(tmp_path: Path) -> dict:
    import importlib.util

    from kfp import compiler

    source = tmp_path / "chain_mod.py"
    source.write_text(textwrap.dedent(CHAIN))
    spec = importlib.util.spec_from_file_location("chain_mod", source)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "chain.yaml"
    compiler.Compiler().compile(module.chain, str(out))
    return yaml.safe_load(out.read_text())


@pytest.mark.slow
def test_sigkill_of_flowyard_up_runs_every_task_once(fy_home: Path, tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    spec = _spec(tmp_path)
    srv = Server(fy_home).start()
    adopted = mid_task = 0
    try:
        for attempt in range(5):
            counter = tmp_path / f"count-{attempt}"
            resp = httpx.post(f"{srv.url}/apis/v2beta1/runs", json={
                "display_name": f"chaos-{attempt}", "pipeline_spec": spec,
                "runtime_config": {"parameters": {"counter": str(counter)}}})
            assert resp.status_code == 200, resp.text
            run_id = resp.json()["run_id"]
            _kill_point(rng, counter, lambda: True)
            running = _running(run_id)
            srv.kill()  # SIGKILL of the server alone, as in a crash
            mid_task += bool(running)
            print(f"flowyard up, attempt {attempt}: SIGKILL with {running or 'no task'} running")
            srv = Server(fy_home).start()

            def finished(url: str = srv.url, run_id: str = run_id) -> dict | None:
                run = httpx.get(f"{url}/apis/v2beta1/runs/{run_id}").json()
                return run if run["state"] in ("SUCCEEDED", "FAILED", "CANCELED") else None

            run = _wait(finished, f"run {attempt} to finish after the restart", timeout=120)
            assert run["state"] == "SUCCEEDED", run.get("error")
            _assert_each_once(counter)
            adopted += sum(e.reason == "Adopted" for e in open_store().events(run_id))
    finally:
        srv.stop()
    assert adopted, "no kill landed while a task ran: the test proved nothing"
    assert mid_task >= 3, f"only {mid_task} of the kills landed while a task ran"
