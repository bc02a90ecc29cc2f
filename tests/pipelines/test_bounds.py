"""Bounded runs: a component that contains itself is refused at validation, naming the
cycle; a run may create at most FLOWYARD_MAX_TASKS_PER_RUN tasks and fails with a clear error
past it; cancel stops a run at any stage, however deep its DAGs nest or long its loops are.

The IR is written by hand: the kfp SDK will not compile a cycle."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import flowyard
from flowyard.pipelines import runner
from flowyard.pipelines.errors import PipelineError
from flowyard.pipelines.loader import load_pipeline
from flowyard.store import open_store


def _task(component: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"componentRef": {"name": component}, "taskInfo": {"name": name or component},
            **extra}


def _spec(components: dict[str, Any], root_tasks: dict[str, Any],
          executors: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"schemaVersion": "2.1.0", "sdkVersion": "kfp-2.16.1",
            "pipelineInfo": {"name": "bounds"}, "root": {"dag": {"tasks": root_tasks}},
            "components": components, "deploymentSpec": {"executors": executors or {}}}


def _dag(**tasks: dict[str, Any]) -> dict[str, Any]:
    return {"dag": {"tasks": tasks}}


def _chain(depth: int, leaf: dict[str, Any]) -> dict[str, Any]:
    """comp-0 contains comp-1 ... contains comp-{depth}, which is `leaf`. One-letter task
    names keep the deepest task's scratch path under the system's PATH_MAX."""
    comps = {f"comp-{i}": _dag(i=_task(f"comp-{i + 1}", "i")) for i in range(depth)}
    comps[f"comp-{depth}"] = leaf
    return comps


def _loop(n: int, body: str) -> dict[str, Any]:
    items = "[" + ",".join(str(i) for i in range(n)) + "]"
    return _task(body, "for-loop-1", parameterIterator={
        "items": {"raw": items}, "itemInput": "pipelinechannel--loop-item-param-1"})


# -- reference cycles ----------------------------------------------------------------------

def test_a_component_that_contains_itself_is_refused_naming_the_cycle() -> None:
    spec = _spec({"comp-a": _dag(again=_task("comp-a", "again"))}, {"a": _task("comp-a")})
    with pytest.raises(PipelineError) as err:
        flowyard.run(spec)
    assert "component reference cycle comp-a → comp-a" in str(err.value)
    assert "components.comp-a.dag.tasks.again.componentRef.name" in str(err.value)
    assert open_store().list_runs() == []  # nothing was recorded, nothing ran


def test_a_cycle_through_other_components_is_refused_naming_each() -> None:
    spec = _spec({
        "comp-a": _dag(b=_task("comp-b")),
        "comp-b": _dag(c=_task("comp-c")),
        "comp-c": _dag(a=_task("comp-a"), ok=_task("comp-leaf")),
        "comp-leaf": _dag(),
    }, {"start": _task("comp-a")})
    with pytest.raises(PipelineError, match="comp-a → comp-b → comp-c → comp-a"):
        load_pipeline(spec)


def test_a_cycle_no_task_reaches_is_refused_too() -> None:
    spec = _spec({"comp-x": _dag(y=_task("comp-y")), "comp-y": _dag(x=_task("comp-x")),
                  "comp-leaf": _dag()}, {"start": _task("comp-leaf")})
    with pytest.raises(PipelineError, match="comp-x → comp-y → comp-x"):
        load_pipeline(spec)


def test_a_shared_component_used_twice_is_not_a_cycle() -> None:
    spec = _spec({"comp-a": _dag(l1=_task("comp-leaf", "l1"), l2=_task("comp-leaf", "l2")),
                  "comp-leaf": _dag()},
                 {"a1": _task("comp-a", "a1"), "a2": _task("comp-a", "a2")})
    run = flowyard.run(spec)
    assert run.state == "SUCCEEDED", run.error
    assert len(run.tasks) == 6


def test_a_deep_chain_of_components_validates_without_exhausting_the_stack() -> None:
    load_pipeline(_spec(_chain(5000, _dag()), {"start": _task("comp-0")}))


# -- the task bound ----------------------------------------------------------------------

def test_a_loop_longer_than_the_bound_fails_the_run_before_expanding(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWYARD_MAX_TASKS_PER_RUN", "50")
    spec = _spec({"comp-body": _dag(x=_task("comp-leaf", "x")), "comp-leaf": _dag()},
                 {"loop": _loop(1000, "comp-body")})
    run = flowyard.run(spec)
    assert run.state == "FAILED"
    assert run.error is not None
    assert "FLOWYARD_MAX_TASKS_PER_RUN" in run.error and "1,000 items" in run.error
    assert len(run.tasks) == 1  # the loop task itself; not one iteration was created
    assert run.tasks[0].state == "FAILED"


def test_an_expansion_past_the_bound_fails_the_run_and_stops_every_task(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 30 iterations of 3 tasks each fit no bound of 40: the run must stop, not finish.
    monkeypatch.setenv("FLOWYARD_MAX_TASKS_PER_RUN", "40")
    spec = _spec({"comp-body": _dag(x=_task("comp-mid", "x")),
                  "comp-mid": _dag(y=_task("comp-leaf", "y")), "comp-leaf": _dag()},
                 {"loop": _loop(30, "comp-body")})
    run = flowyard.run(spec)
    assert run.state == "FAILED"
    assert run.error is not None and "past 40 tasks (FLOWYARD_MAX_TASKS_PER_RUN)" in run.error
    assert len(run.tasks) <= 40
    states = Counter(t.state for t in run.tasks)
    assert not states.keys() & {"RUNNING", "PENDING"}, states
    # The stored run tells the user the same thing.
    assert open_store().get_run(run.id).error == run.error


def test_a_bad_bound_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWYARD_MAX_TASKS_PER_RUN", "lots")
    from flowyard.config import settings

    with pytest.raises(ValueError, match="FLOWYARD_MAX_TASKS_PER_RUN='lots'"):
        settings()


# -- cancel at any stage --------------------------------------------------------------------

def _drive_in_thread(run_id: str) -> tuple[threading.Thread, dict[str, str]]:
    out: dict[str, str] = {}

    def go() -> None:
        out["state"] = asyncio.run(runner.drive(run_id))

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t, out


def _wait_for(cond: Any, what: str, limit: float = 120.0) -> None:
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


def test_cancel_reaches_a_task_nested_600_dags_deep(tmp_path: Path) -> None:
    # Cancelling 600 nested DAGs used to recurse once per level inside asyncio's cancel()
    # and die there (RecursionError, swallowed): the cancel was lost and the run went on.
    started = tmp_path / "started"
    leaf = {"executorLabel": "exec-sleep"}
    executors = {"exec-sleep": {"container": {
        "image": "alpine:3", "command": ["sh", "-c", f'touch "{started}"; exec sleep 600']}}}
    doc = load_pipeline(_spec(_chain(600, leaf), {"start": _task("comp-0")}, executors))
    store = open_store()
    run_id = runner.submit(doc, {}, store=store)
    thread, out = _drive_in_thread(run_id)
    _wait_for(started.exists, "the innermost task started")
    store.request_cancel(run_id)
    thread.join(120)
    assert not thread.is_alive(), "the run went on after cancel"
    assert out["state"] == "CANCELED"
    tasks = store.tasks(run_id)
    assert len(tasks) == 601  # the root task, 599 nested DAGs, the container
    assert {t.state for t in tasks} == {"CANCELED"}


def test_cancel_stops_a_loop_while_it_is_still_expanding() -> None:
    spec = _spec({"comp-body": _dag(x=_task("comp-mid", "x")),
                  "comp-mid": _dag(y=_task("comp-leaf", "y")), "comp-leaf": _dag()},
                 {"loop": _loop(3000, "comp-body")})
    store = open_store()
    run_id = runner.submit(load_pipeline(spec), {}, store=store)
    thread, out = _drive_in_thread(run_id)
    _wait_for(lambda: len(store.tasks(run_id)) > 100, "the loop began to expand")
    store.request_cancel(run_id)
    thread.join(120)
    assert not thread.is_alive()
    assert out["state"] == "CANCELED"
    tasks = store.tasks(run_id)
    assert len(tasks) < 1 + 3000 * 3  # it stopped expanding: not every iteration was made
    states = Counter(t.state for t in tasks)
    assert not states.keys() & {"RUNNING", "PENDING"}, states
    # Nothing is created after the run ended.
    time.sleep(0.5)
    assert len(store.tasks(run_id)) == len(tasks)
