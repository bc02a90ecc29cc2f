"""What a new user hit on the dashboard with a ParallelFor (issue 8): each iteration's metrics
kept apart in compare, the runs and experiments lists, which task and iteration made each
artifact, visualizations in the run's order, and the selected graph node ringed. Real runs of
tests/ui/loop_pipeline.py through the engine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowyard.services import artifacts_view, graph_view, run_metrics, views
from flowyard.services.context import Services
from flowyard.services.launcher import BackgroundLoop, Launcher

PIPELINE = Path(__file__).parents[1] / "ui" / "loop_pipeline.py"


@pytest.fixture
def svc(fy_home: Path) -> Iterator[Services]:
    from flowyard.store import open_store

    store = open_store()
    yield Services(store, Launcher(BackgroundLoop().loop, store))


def run(svc: Services, **params: Any) -> str:
    from flowyard.pipelines.loader import load_pipeline
    from flowyard.pipelines.runner import drive, submit

    run_id = submit(load_pipeline(str(PIPELINE)), params, store=svc.store,
                    run_name=f"loop {params}")
    assert asyncio.run(drive(run_id, store=svc.store)) == "SUCCEEDED"
    return run_id


def _scores(svc: Services, run_id: str) -> list[dict[str, Any]]:
    return [t for t in views.run_detail(svc, run_id)["tasks"] if t["name"] == "score"]


def test_each_iteration_keeps_its_metrics(svc: Services) -> None:
    first = run(svc)
    second = run(svc, items=[{"acc": 0.5, "delay": 0}, {"acc": 0.80, "delay": 0},
                             {"acc": 0.65, "delay": 0}])
    cmp = views.compare(svc, [first, second])
    metrics = {m["key"]: m for m in cmp["metrics"]}
    # Before: one "score/accuracy" row whose value was whichever iteration was stored last.
    assert "score/accuracy" not in metrics
    assert [m["key"] for m in cmp["metrics"]] == [
        "score[0]/accuracy", "score[1]/accuracy", "score[2]/accuracy"]
    assert metrics["score[0]/accuracy"]["values"] == {first: 0.72, second: 0.5}
    assert metrics["score[0]/accuracy"]["differs"]
    assert metrics["score[1]/accuracy"]["values"] == {first: 0.80, second: 0.80}
    assert not metrics["score[1]/accuracy"]["differs"]
    assert metrics["score[2]/accuracy"]["values"][first] == 0.65


def test_runs_and_experiments_lists_show_metrics(svc: Services) -> None:
    run_id = run(svc)
    page = views.runs_page(svc, views.RunFilter())
    assert page["metric_columns"] == ["score[0]/accuracy", "score[1]/accuracy",
                                      "score[2]/accuracy"]
    assert page["runs"][0]["metrics"] == {"score[0]/accuracy": 0.72,
                                          "score[1]/accuracy": 0.80,
                                          "score[2]/accuracy": 0.65}
    (exp,) = [e for e in views.experiments_overview(svc) if e["runs"]]
    assert exp["latest_run_id"] == run_id
    assert exp["metrics"]["score[1]/accuracy"] == 0.80


def test_metric_columns_are_the_most_common_few() -> None:
    values = {"a": {"x/acc": 1.0, "x/loss": 0.1, "y[2]/f1": 0.3}, "b": {"x/acc": 0.5},
              "c": {"y[10]/f1": 0.1, "y[2]/f1": 0.4, "z/q": 1.0, "z/r": 2.0}}
    assert run_metrics.columns(values) == ["x/acc", "y[2]/f1", "x/loss", "y[10]/f1"]
    assert run_metrics.task_label("train", "for-loop-2/1/for-loop-4/0/train") == "train[1,0]"
    assert run_metrics.task_label("train", "train") == "train"


def test_artifacts_list_names_producer_and_iteration(svc: Services) -> None:
    run_id = run(svc)
    arts = artifacts_view.artifacts_page(svc, run_id=run_id, size=100)["artifacts"]
    reports = sorted((a["producer"], a["iteration"]) for a in arts if a["name"] == "report")
    assert reports == [("score", [0]), ("score", [1]), ("score", [2])]


def test_visualizations_in_iteration_order_not_finish_order(svc: Services) -> None:
    run_id = run(svc)
    scores = _scores(svc, run_id)
    finished = [run_metrics.iterations(t["path"])[0]
                for t in sorted(scores, key=lambda t: t["finished_at"])]
    assert finished == [1, 0, 2]  # the problem's precondition: they ended out of order
    detail = views.run_detail(svc, run_id)
    order = [(run_metrics.task_label(t["name"], t["path"]), a["name"])
             for t, a in views.artifacts_in_order(detail)]
    # Within a task: the order its component declares its outputs in (the IR's output index;
    # kfp's compiler fills that map from a set, so it is read here, not assumed).
    declared = list(detail["run"]["spec"]["components"]["comp-score"]["outputDefinitions"][
        "artifacts"])
    assert sorted(declared) == ["metrics", "report"]
    assert order == [(f"score[{i}]", name) for i in range(3) for name in declared]


def test_selected_node_is_ringed(svc: Services) -> None:
    run_id = run(svc)
    detail = views.run_detail(svc, run_id)
    target = _scores(svc, run_id)[1]
    plain = graph_view.build(detail["run"]["spec"], detail["tasks"])
    assert "fy-selected" not in plain.svg
    chosen = graph_view.build(detail["run"]["spec"], detail["tasks"], target["id"])
    assert chosen.svg.count("fy-selected") == 1 and chosen.svg.count("fy-halo") == 1
    start = chosen.svg.index("fy-selected")
    assert f'data-task="{target["id"]}"' in chosen.svg[start:start + 200]
