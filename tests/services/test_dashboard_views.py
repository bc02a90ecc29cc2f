"""The dashboard's read models against a real run of tests/ui/viz_pipeline.py: the runs page
and its filters, the task tree and graph, artifacts (preview, lineage, download), compare,
uploads of YAML and .py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowyard.services import artifacts_view, graph_view, uploads, views
from flowyard.services.context import Services
from flowyard.services.graph_layout import Box, layout
from flowyard.services.launcher import BackgroundLoop, Launcher

PIPELINE = Path(__file__).parents[1] / "ui" / "viz_pipeline.py"


@pytest.fixture
def svc(fy_home: Path) -> Iterator[Services]:
    from flowyard.store import open_store

    store = open_store()
    yield Services(store, Launcher(BackgroundLoop().loop, store))


def run(svc: Services, **params: Any) -> str:
    from flowyard.pipelines.loader import load_pipeline
    from flowyard.pipelines.runner import drive, submit

    run_id = submit(load_pipeline(str(PIPELINE)), {"delay": 0, **params}, store=svc.store,
                    run_name=f"viz {params}")
    assert asyncio.run(drive(run_id, store=svc.store)) == "SUCCEEDED"
    return run_id


def test_runs_page_filters_and_pages(svc: Services) -> None:
    first, second = run(svc), run(svc, threshold=0.95)
    page = views.runs_page(svc, views.RunFilter(), 0, 1)
    assert page["total"] == 2 and [r["id"] for r in page["runs"]] == [second]
    assert views.runs_page(svc, views.RunFilter(), 1, 1)["runs"][0]["id"] == first
    assert views.runs_page(svc, views.RunFilter(pipeline="viz-demo"))["total"] == 2
    assert views.runs_page(svc, views.RunFilter(pipeline="other"))["total"] == 0
    assert views.runs_page(svc, views.RunFilter(state="FAILED"))["total"] == 0
    later = datetime.now(UTC) + timedelta(hours=1)
    assert views.runs_page(svc, views.RunFilter(since=later))["total"] == 0
    assert views.runs_page(svc, views.RunFilter(search="0.95"))["runs"][0]["id"] == second
    opts = views.filter_options(svc)
    assert opts["pipelines"] == ["viz-demo"] and "Default" in opts["experiments"].values()
    summary = views.home_summary(svc)
    assert summary["counts"] == {"SUCCEEDED": 2} and not summary["running"]


def test_graph_groups_states_and_clicks(svc: Services) -> None:
    run_id = run(svc, threshold=0.95)  # the condition is false: its branch is skipped
    detail = views.run_detail(svc, run_id)
    by_name = {t["name"]: t for t in detail["tasks"]}
    assert by_name["condition-3"]["state"] == "SKIPPED"
    graph = graph_view.build(detail["run"]["spec"], detail["tasks"])
    assert 'class="fy-group"' in graph.svg and "(loop) · 2 items" in graph.svg
    assert "⤼ condition-3 (condition)" in graph.svg  # the skipped group, drawn as skipped
    assert set(graph.node_tasks.values()) <= {t["id"] for t in detail["tasks"]}
    assert by_name["prepare"]["id"] in graph.node_tasks.values()
    # Before any task row exists, the spec's shape is drawn as "not started".
    empty = graph_view.build(detail["run"]["spec"], [])
    assert empty.svg.count("not started") == 4 and not empty.node_tasks


def test_layout_layers_follow_dependencies() -> None:
    boxes = [Box("b1", "a", [], "a", "", "SUCCEEDED"), Box("b2", "b", ["a"], "b", "", "RUNNING"),
             Box("b3", "c", ["a", "b"], "c", "", "PENDING")]
    width, height = layout(boxes)
    a, b, c = boxes
    assert a.y < b.y < c.y and width > a.w and height > c.y + c.h - 1


def test_artifacts_preview_lineage_download(svc: Services) -> None:
    run_id = run(svc)
    arts = artifacts_view.artifacts_page(svc, run_id=run_id, size=100)["artifacts"]
    by_name = {a["name"]: a for a in arts}
    data = by_name["data"]
    preview = artifacts_view.preview(data["uri"], data["type"], data["name"])
    assert preview["kind"] == "csv" and preview["rows"][:2] == [["x", "y"], ["0", "0"]]
    assert artifacts_view.preview(by_name["plot"]["uri"])["kind"] == "image"
    meta = artifacts_view.preview(by_name["mlpipeline_ui_metadata"]["uri"], "", "x")
    assert [o["type"] for o in meta["ui_metadata"]] == ["markdown", "table", "roc"]
    lin = artifacts_view.lineage(svc, data["id"])
    assert lin["producer"]["name"] == "prepare"
    assert sorted(c["path"] for c in lin["consumers"]) == ["for-loop-2/0/train",
                                                             "for-loop-2/1/train"]
    d = artifacts_view.open_for_download(svc, data["id"])
    assert (d.name, d.is_zip) == ("data", False) and b"".join(d.chunks).startswith(b"x,y\n")
    typed = artifacts_view.artifacts_page(svc, schema_title="system.ClassificationMetrics")
    assert [a["name"] for a in typed["artifacts"]] == ["cm"]


def test_task_detail_and_log(svc: Services) -> None:
    run_id = run(svc)
    prepare = next(t for t in views.run_detail(svc, run_id)["tasks"] if t["name"] == "prepare")
    detail = views.task_detail(svc, prepare["id"])
    assert detail["inputs"]["parameters"] == {"rows": 5, "delay": 0.0}
    text, offset, state = views.read_log(svc, prepare["id"])
    assert "preparing chunk 2" in text and state == "SUCCEEDED"
    assert views.read_log(svc, prepare["id"], offset)[0] == ""


def test_compare_marks_differences(svc: Services) -> None:
    low, high = run(svc), run(svc, threshold=0.95)
    cmp = views.compare(svc, [low, high])
    params = {p["key"]: p for p in cmp["parameters"]}
    assert params["threshold"]["differs"] and not params["rows"]["differs"]
    metrics = {m["key"]: m for m in cmp["metrics"]}
    assert metrics["evaluate/accuracy"]["values"] == {low: 0.9, high: 0.9}
    assert not metrics["evaluate/accuracy"]["differs"]


def test_upload_yaml_then_python_as_new_version(svc: Services, tmp_path: Path) -> None:
    from kfp import compiler

    from tests.ui import viz_pipeline

    yaml_path = tmp_path / "viz.yaml"
    compiler.Compiler().compile(viz_pipeline.viz_demo, str(yaml_path))
    first = uploads.upload(svc, yaml_path.read_bytes(), "viz.yaml")
    second = uploads.upload(svc, PIPELINE.read_bytes(), "viz_pipeline.py")
    assert first["pipeline_id"] == second["pipeline_id"]  # same name: a new version
    assert first["pipeline_version_id"] != second["pipeline_version_id"]
    with pytest.raises(Exception, match=r"broken\.py"):
        uploads.upload(svc, b"import nothing_here_at_all\n", "broken.py")
