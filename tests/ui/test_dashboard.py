"""The dashboard in real Chromium (Debian's /usr/bin/chromium through Python Playwright),
against `flowyard up` on a free port with a fresh FLOWYARD_HOME: upload a pipeline, start a
run from its form, watch the graph turn green, read a task's log while it runs, open a
confusion matrix, compare two runs, download an artifact. Every page is screenshotted to
test-artifacts/screenshots/, and no request may leave 127.0.0.1."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Server
from tests.ui.browser import (
    GREEN,
    by_id,
    field,
    go,
    no_sideways_scroll,
    node_fills,
    shot,
    start_run,
    upload_pipeline,
    wait_run,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

def test_run_from_form_graph_logs_confusion_matrix(page: Any, server: Server) -> None:
    pipeline_id = upload_pipeline(page)
    shot(page, "pipeline-version")
    go(page, "/pipelines")
    by_id(page, "pipelines-table").get_by_text("viz-demo").first.wait_for()
    shot(page, "pipelines")

    run_id = start_run(page, pipeline_id, {"delay": "1.0"}, "from the form")
    # While `prepare` runs: its log streams into the task panel.
    by_id(page, "task-table").get_by_text("prepare", exact=True).click()
    page.get_by_role("tab", name="Logs").click()
    by_id(page, "task-log").get_by_text("preparing chunk 0").wait_for()
    # A line wider than the pane wraps: its end is on screen, nothing scrolls sideways.
    assert by_id(page, "task-log").get_by_text("end-of-wide-line").is_visible()
    assert no_sideways_scroll(page, "[data-testid=task-log] .q-scrollarea__container")
    assert no_sideways_scroll(page, "[data-testid=task-panel]")
    assert "running" in by_id(page, "task-state").inner_text().lower()
    shot(page, "run-running-logs")
    by_id(page, "task-log").get_by_text("preparing chunk 2").wait_for()

    wait_run(page, "succeeded")
    page.wait_for_function(f"""() => {{
        const fills = [...document.querySelectorAll(
            '[data-testid=run-graph] g.fy-node > rect:not(.fy-halo)')]
            .map(r => r.getAttribute('fill'));
        return fills.length >= 5 && fills.every(f => f === '{GREEN}');
    }}""", timeout=15_000)
    fills = node_fills(page)
    assert fills and all(f == GREEN for f in fills), fills
    shot(page, "run-succeeded-graph")

    # The confusion matrix of `evaluate` (opened from its node in the graph), by ECharts.
    by_id(page, "run-graph").locator("g.fy-node", has_text="evaluate").click()
    matrix = by_id(page, "confusion-matrix")
    matrix.wait_for()
    assert matrix.locator("canvas").count() >= 1
    assert by_id(page, "metrics-table").first.get_by_text("accuracy").count() >= 1
    shot(page, "task-confusion-matrix")
    page.get_by_role("tab", name="Visualizations").click()
    frame = page.locator("[data-testid=html-frame]:visible iframe").first
    frame.wait_for()
    assert frame.get_attribute("sandbox") == "allow-scripts"  # no same-origin: fenced off
    page.frame_locator("[data-testid=html-frame]:visible iframe").first.get_by_text(
        "Hello from an HTML artifact").wait_for()
    page.locator("h2:visible", has_text="v1 markdown output").first.wait_for()
    shot(page, "run-visualizations")

    status = httpx.get(f"{server.url}/apis/v2beta1/runs/{run_id}").json()
    assert status["state"] == "SUCCEEDED"


def test_compare_two_runs_and_download(page: Any, server: Server) -> None:
    existing = httpx.get(f"{server.url}/apis/v2beta1/pipelines").json().get("pipelines", [])
    pipeline_id = (existing[0]["pipeline_id"] if existing else upload_pipeline(page))
    first = start_run(page, pipeline_id, {"delay": "0", "threshold": "0.5"}, "threshold low")
    wait_run(page, "succeeded")
    # A clone with a new parameter: its condition is false, so `publish` is skipped.
    by_id(page, "clone").click()
    field(page, "param-threshold").fill("0.95")
    field(page, "run-name").fill("threshold high")
    by_id(page, "start-run").click()
    page.wait_for_url(re.compile(r"/runs/(?!" + first + r")[0-9a-f-]{36}"))
    second = page.url.rsplit("/", 1)[-1]
    wait_run(page, "succeeded")
    by_id(page, "task-table").get_by_text("condition-3").wait_for()
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid=task-table] td')]
        .some(td => td.innerText.trim() === 'skipped')""")
    shot(page, "run-with-skipped-branch")

    # Compare from the runs list: select both, press Compare.
    go(page, "/runs")
    table = by_id(page, "runs-table")
    for name in ("threshold low", "threshold high"):
        table.locator("tr", has_text=name).locator(".q-checkbox").click()
    shot(page, "runs")
    by_id(page, "compare").click()
    page.wait_for_url(re.compile(r"/compare\?runs="))
    params = by_id(page, "compare-params")
    params.wait_for()
    assert set(page.url.split("runs=")[1].split(",")) == {first, second}
    differing = params.locator("tr.differs").all_inner_texts()
    assert any("threshold" in row for row in differing), differing
    assert not any(row.startswith("rows") for row in differing), differing
    by_id(page, "compare-metrics").get_by_text("evaluate/accuracy").wait_for()
    by_id(page, "compare-chart").locator("canvas").wait_for()
    shot(page, "compare")

    # Artifacts: browse, open one, check its lineage, download it.
    go(page, f"/artifacts?run={first}")
    by_id(page, "artifacts-table").get_by_text("data", exact=True).click()
    page.wait_for_url(re.compile(r"/artifacts/[0-9a-f-]{36}"))
    consumers = by_id(page, "lineage-task").all_inner_texts()
    assert "prepare" in consumers[0]  # the producer first
    assert sum("train" in c for c in consumers[1:]) == 2  # both loop iterations read it
    shot(page, "artifact")
    with page.expect_download() as info:
        by_id(page, "download").click()
    download = info.value
    body = Path(download.path()).read_text()
    assert body.startswith("x,y\n0,0\n") and download.suggested_filename == "data"
    go(page, "/artifacts")
    by_id(page, "artifacts-table").get_by_text("cm").first.wait_for()
    shot(page, "artifacts")


def test_overview_pages(page: Any, server: Server) -> None:
    """Home, experiments and recurring runs render what the store holds."""
    runs = httpx.get(f"{server.url}/apis/v2beta1/runs").json().get("runs", [])
    if not runs:
        pytest.skip("runs from the earlier tests are needed")
    spec = httpx.get(f"{server.url}/apis/v2beta1/runs/{runs[0]['run_id']}").json()
    pipes = httpx.get(f"{server.url}/apis/v2beta1/pipelines").json()["pipelines"]
    rr = httpx.post(f"{server.url}/apis/v2beta1/recurringruns", json={
        "display_name": "nightly", "pipeline_version_reference": {
            "pipeline_id": pipes[0]["pipeline_id"]},
        "runtime_config": {"parameters": {"delay": 0}},
        "trigger": {"periodic_schedule": {"interval_second": "3600"}},
        "mode": "ENABLE", "experiment_id": spec["experiment_id"]})
    assert rr.status_code == 200, rr.text

    go(page, "/")
    by_id(page, "recent-table").get_by_text("threshold high").wait_for()
    shot(page, "home")
    go(page, "/experiments")
    by_id(page, "experiments-table").get_by_text("Default").wait_for()
    shot(page, "experiments")
    go(page, "/recurring")
    page.get_by_text("every 3600s").wait_for()
    assert page.get_by_text("next: —").count() == 0  # an enabled schedule has a next fire
    by_id(page, "enable-nightly").click()
    page.get_by_text("next: —").wait_for()  # disabled: nothing is due
    got = httpx.get(f"{server.url}/apis/v2beta1/recurringruns/{rr.json()['recurring_run_id']}")
    assert got.json()["status"] == "DISABLED"
    shot(page, "recurring")


def test_terminate_then_retry(page: Any, server: Server) -> None:
    existing = httpx.get(f"{server.url}/apis/v2beta1/pipelines").json().get("pipelines", [])
    pipeline_id = existing[0]["pipeline_id"] if existing else upload_pipeline(page)
    run_id = start_run(page, pipeline_id, {"delay": "20"}, "to be stopped")
    wait_run(page, "running")
    page.get_by_role("button", name="Terminate").click()
    wait_run(page, "canceled", timeout=30)
    assert httpx.get(f"{server.url}/apis/v2beta1/runs/{run_id}").json()["state"] == "CANCELED"
    shot(page, "run-canceled")
    page.get_by_role("button", name="Retry").click()
    wait_run(page, "running", timeout=30)  # a retry runs again what did not finish
    page.get_by_role("button", name="Terminate").click()
    wait_run(page, "canceled", timeout=30)
