"""What a new user hit on the dashboard (issue 8), in real Chromium against `flowyard up`,
driven from the real kfp.Client: its printed links open the page they name; a ParallelFor's
iterations keep their own metrics (compare, runs and experiments lists), artifacts say which
task and iteration made them, visualizations come in iteration order, the selected graph node
is ringed, the task panel's tabs are not cut, and the upload widget says no "0.0B / 0.00%"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kfp
import pytest
from kfp import compiler

from tests.api.conftest import Server
from tests.ui.browser import by_id, go, no_sideways_scroll, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:This client only works:FutureWarning")]


@pytest.fixture(scope="module")
def kfp_runs(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two runs of tests/ui/loop_pipeline.py made the way a notebook makes them."""
    from tests.ui.loop_pipeline import loop_metrics

    client = kfp.Client(host=server.url)
    package = tmp_path_factory.mktemp("pkg") / "loop.yaml"
    compiler.Compiler().compile(loop_metrics, str(package))
    exp = client.create_experiment("loops")
    pipe = client.upload_pipeline(str(package), pipeline_name="loop-metrics")
    version = client.list_pipeline_versions(pipe.pipeline_id).pipeline_versions[0]
    runs = []
    for name, items in (("loop a", None), ("loop b", [{"acc": 0.5, "delay": 0},
                                                       {"acc": 0.8, "delay": 0},
                                                       {"acc": 0.65, "delay": 0}])):
        run = client.run_pipeline(exp.experiment_id, name, pipeline_id=pipe.pipeline_id,
                                  version_id=version.pipeline_version_id,
                                  params={"items": items} if items else None)
        runs.append(run.run_id)
    for run_id in runs:
        done = client.wait_for_run_completion(run_id, timeout=120, sleep_duration=0.5)
        assert done.state == "SUCCEEDED"
    recurring = client.create_recurring_run(exp.experiment_id, "hourly loops", interval_second=3600,
                                            pipeline_id=pipe.pipeline_id,
                                            version_id=version.pipeline_version_id, enabled=False)
    yield {"client": client, "experiment": exp.experiment_id, "pipeline": pipe.pipeline_id,
           "version": version.pipeline_version_id, "runs": runs,
           "recurring": recurring.recurring_run_id}


def test_kfp_client_links_open_their_pages(page: Any, server: Server,
                                           kfp_runs: dict[str, Any]) -> None:
    prefix = kfp_runs["client"]._get_url_prefix()  # what kfp.Client prints its links with
    assert prefix == server.url
    first, second = kfp_runs["runs"]
    links = [
        (f"/#/runs/details/{first}", f"/runs/{first}"),
        (f"/#/runs/details/{first}/execution/42", f"/runs/{first}"),
        (f"/#/experiments/details/{kfp_runs['experiment']}",
         f"/runs?experiment={kfp_runs['experiment']}"),
        (f"/#/pipelines/details/{kfp_runs['pipeline']}", f"/pipelines/{kfp_runs['pipeline']}"),
        (f"/#/pipelines/details/{kfp_runs['pipeline']}/version/{kfp_runs['version']}",
         f"/pipelines/{kfp_runs['pipeline']}?version={kfp_runs['version']}"),
        (f"/#/recurringrun/details/{kfp_runs['recurring']}",
         f"/recurring?selected={kfp_runs['recurring']}"),
        (f"/#/compare?runlist={first},{second}", f"/compare?runs={first},{second}"),
        ("/#/runs", "/runs"), ("/#/experiments", "/experiments"), ("/#/pipelines", "/pipelines"),
        ("/#/recurringruns", "/recurring"), ("/#/artifacts", "/artifacts"),
        ("/#/archive/runs", "/runs"),
    ]
    for link, target in links:
        page.goto(prefix + link)
        page.wait_for_url(server.url + target)
    page.goto(prefix + f"/#/runs/details/{first}")
    by_id(page, "run-name").get_by_text("loop a").wait_for()
    page.go_back()  # replace(), not a push: back leaves the dashboard instead of looping
    assert not page.url.startswith(server.url + "/runs/")
    page.goto(prefix + "/#/something/else")  # an unknown route stays on Home
    by_id(page, "recent-table").wait_for()


def test_iterations_keep_their_metrics_everywhere(page: Any, kfp_runs: dict[str, Any]) -> None:
    first, second = kfp_runs["runs"]
    go(page, f"/compare?runs={first},{second}")
    metrics = by_id(page, "compare-metrics")
    metrics.wait_for()
    rows = metrics.locator("tbody tr").all_inner_texts()
    by_key = {r.split("\t")[0].replace(" ≠", "").strip(): r for r in rows}
    assert set(by_key) == {"score[0]/accuracy", "score[1]/accuracy", "score[2]/accuracy"}, rows
    assert "0.72" in by_key["score[0]/accuracy"] and "0.5" in by_key["score[0]/accuracy"]
    assert "0.8" in by_key["score[1]/accuracy"]
    assert metrics.locator("tr.differs").count() == 1  # only iteration 0 differs
    shot(page, "compare-iterations")

    go(page, "/runs")
    table = by_id(page, "runs-table")
    table.locator("th", has_text="score[0]/accuracy").wait_for()
    row = table.locator("tr", has_text="loop a")
    assert "0.72" in row.inner_text() and "0.8" in row.inner_text()
    shot(page, "runs-metric-columns")
    go(page, "/experiments")
    exps = by_id(page, "experiments-table")
    exps.locator("th", has_text="score[1]/accuracy").wait_for()
    assert "0.8" in exps.locator("tr", has_text="loops").inner_text()
    shot(page, "experiments-metric-columns")

    go(page, f"/artifacts?run={first}")
    arts = by_id(page, "artifacts-table")
    arts.locator("th", has_text="Produced by").wait_for()
    reports = [r for r in arts.locator("tbody tr").all_inner_texts() if r.startswith("report")]
    assert len(reports) == 3 and all("score" in r for r in reports)
    assert sorted(r.split("\t")[4].strip() for r in reports) == ["0", "1", "2"], reports
    shot(page, "artifacts-producer")


def test_run_page_order_selection_and_panel(page: Any, kfp_runs: dict[str, Any]) -> None:
    first = kfp_runs["runs"][0]
    go(page, f"/runs/{first}")
    page.get_by_role("tab", name="Visualizations").click()
    sources = by_id(page, "viz-source")
    sources.first.wait_for()
    # Iteration 1 finished first, then 0, then 2; they are shown as the loop runs them.
    assert [s.split(" · ")[0] for s in sources.all_inner_texts()] == [
        "score[0]", "score[0]", "score[1]", "score[1]", "score[2]", "score[2]"]
    page.locator("h2:visible", has_text="accuracy 0.72").first.wait_for()
    shot(page, "run-visualizations-ordered")

    page.get_by_role("tab", name="Graph").click()
    node = by_id(page, "run-graph").locator("g.fy-node", has_text="score").nth(1)
    task_id = node.get_attribute("data-task")
    node.click()
    by_id(page, "task-title").get_by_text("score").wait_for()
    selected = by_id(page, "run-graph").locator("g.fy-selected")
    selected.wait_for()
    assert selected.count() == 1 and selected.get_attribute("data-task") == task_id
    # The side panel's tabs fit, none cut with an ellipsis.
    tabs = by_id(page, "task-tabs")
    labels = tabs.locator(".q-tab__label").all_inner_texts()
    assert labels == ["Inputs & outputs", "Logs", "Artifacts (2)", "Events"], labels
    assert no_sideways_scroll(page, "[data-testid=task-tabs] .q-tab__label")
    shot(page, "run-selected-node")
    # Picking another task (from the list) moves the ring.
    by_id(page, "task-table").get_by_text("score", exact=False).first.click()
    page.wait_for_function(f"""() => {{
        const s = document.querySelectorAll('[data-testid=run-graph] g.fy-selected');
        return s.length === 1 && s[0].getAttribute('data-task') !== '{task_id}';
    }}""")


def test_upload_widget_says_what_to_do(page: Any) -> None:
    go(page, "/pipelines")
    header = by_id(page, "upload-header")
    header.wait_for()
    assert "0.0B" not in header.inner_text() and "0.00%" not in header.inner_text()
    assert "Drop a file here" in header.inner_text()
    assert page.get_by_text("0.0B").count() == 0
    shot(page, "pipelines-upload")
