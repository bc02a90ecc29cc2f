"""Helpers the browser tests share: navigation, test ids, screenshots, uploads and runs
started from the dashboard's own forms."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
PIPELINE = Path(__file__).with_name("viz_pipeline.py")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
GREEN = "#d1fae5"  # graph_view's SUCCEEDED fill


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    time.sleep(0.4)  # let ECharts finish drawing
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def go(page: Any, path: str) -> None:
    page.goto(page.base + path)
    page.wait_for_load_state("networkidle")


def by_id(page: Any, test_id: str) -> Any:
    return page.get_by_test_id(test_id)


def field(page: Any, test_id: str) -> Any:
    """A form field's <input>: Quasar puts extra attributes on the input itself."""
    return page.locator(f"input[data-testid='{test_id}'], [data-testid='{test_id}'] input").first


def upload_pipeline(page: Any, path: Path = PIPELINE) -> str:
    go(page, "/pipelines")
    page.locator("input[type=file]").set_input_files(str(path))
    page.wait_for_url(re.compile(r"/pipelines/[0-9a-f-]{36}"))
    return str(page.url.rsplit("/", 1)[-1])


def start_run(page: Any, pipeline_id: str, params: dict[str, str], name: str) -> str:
    go(page, f"/pipelines/{pipeline_id}")
    by_id(page, "run-button").click()
    field(page, "run-name").fill(name)
    for key, value in params.items():
        field(page, f"param-{key}").fill(value)
    by_id(page, "start-run").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    return str(page.url.rsplit("/", 1)[-1].split("?")[0])


def wait_run(page: Any, state: str, timeout: float = 90) -> None:
    by_id(page, "run-state").get_by_text(state, exact=True).wait_for(timeout=timeout * 1000)


def node_fills(page: Any) -> list[str]:
    """The fill of every task box the graph drew (groups and the selection ring excluded)."""
    return list(page.evaluate("""() => [...document.querySelectorAll(
        '[data-testid=run-graph] g.fy-node > rect:not(.fy-halo)')].map(
        r => r.getAttribute('fill'))"""))


def no_sideways_scroll(page: Any, selector: str) -> bool:
    """Whether every element `selector` matches shows its content without scrolling sideways."""
    return bool(page.evaluate(f"""() => [...document.querySelectorAll({selector!r})].every(
        el => el.scrollWidth <= el.clientWidth + 1)"""))
