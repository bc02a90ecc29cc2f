#!/usr/bin/env python3
"""How fast the dashboard opens with a big store (issue 5: under a second each).

Seeds a fresh FLOWYARD_HOME with 10,000 runs (bulk-inserted rows spread over 30 days, mixed
states, three experiments and pipelines, two metrics each, shown as the list's metric
columns) and one real 60-task run (10 layers of 6 steps,
executed by the engine), starts `flowyard up` on a free port, and times in Chromium (Python
Playwright, Debian's /usr/bin/chromium) from navigation until the page shows its data:
the runs list (first page rendered), the runs list filtered by state, and the 60-task run page
(all 60 task boxes of the graph drawn). Prints a table; asserts nothing.

    python benchmarks/ui_pages.py [--repeat 5] [--runs 10000]
"""

# No `from __future__ import annotations`: kfp reads the component annotations as real types.

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kfp import dsl

warnings.filterwarnings("ignore", category=FutureWarning)  # kfp's notice about base_image
CHROMIUM = "/usr/bin/chromium"
LAYERS, WIDTH = 10, 6


@dsl.component
def step(x: int) -> int:
    return x + 1


@dsl.pipeline(name="sixty-steps")
def sixty() -> None:
    previous: list[Any] = []
    for layer in range(LAYERS):
        current = []
        for i in range(WIDTH):
            t = step(x=layer * WIDTH + i)
            if previous:
                t.after(previous[i])
                t.after(previous[(i + 1) % WIDTH])
            current.append(t)
        previous = current


def seed_runs(n: int) -> None:
    from sqlalchemy import insert

    from flowyard.store import open_store
    from flowyard.store.schema import Experiment, Metric, Run

    store = open_store()
    exps = [str(uuid.uuid4()) for _ in range(3)]
    rng = random.Random(5)
    now = datetime.now(UTC)
    # No RUNNING rows: the server would try to resume them (their driver is "gone").
    states = ["SUCCEEDED"] * 7 + ["FAILED", "CANCELED", "SKIPPED"]
    spec = {"pipelineInfo": {"name": "seeded"}, "root": {"dag": {"tasks": {}}}}
    with store.session() as s, s.begin():
        s.execute(insert(Experiment), [{"id": e, "name": f"bench-{i}", "description": ""}
                                       for i, e in enumerate(exps)])
        rows = []
        for i in range(n):
            created = now - timedelta(seconds=rng.uniform(60, 30 * 86400))
            state = rng.choice(states)
            rows.append({
                "id": str(uuid.uuid4()), "display_name": f"seeded run {i}",
                "pipeline_name": f"pipeline-{i % 3}", "experiment_id": exps[i % 3],
                "state": state, "spec": spec, "arguments": {"i": i}, "outputs": {},
                "created_at": created, "started_at": created,
                "finished_at": created + timedelta(seconds=30)})
        s.execute(insert(Run), rows)
        # Two metrics per run, so the runs list's metric columns read real rows.
        s.execute(insert(Metric), [
            {"run_id": r["id"], "task_id": None, "key": key, "value": rng.random()}
            for r in rows for key in ("accuracy", "loss")])


def seed_sixty() -> str:
    from flowyard.pipelines.runner import run_pipeline

    run = run_pipeline(sixty, {}, run_name="sixty tasks", enable_caching=False)
    assert run.state == "SUCCEEDED", run.error
    return run.id


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "flowyard.cli.main", "up", "--port", str(port),
                             "--log-level", "warning"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/apis/v2beta1/healthz").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("flowyard up did not start")


def measure(page: Any, url: str, ready: str, repeat: int) -> list[float]:
    """Seconds from navigation until the JS predicate `ready` holds, per repetition; the
    first (cold) load is measured separately by the caller."""
    times = []
    for _ in range(repeat):
        page.goto("about:blank")
        t0 = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.wait_for_function(ready, timeout=30_000, polling=10)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="flowyard-ui-bench-"))
    os.environ["FLOWYARD_HOME"] = str(home)
    for var in ("FLOWYARD_DATABASE_URL", "FLOWYARD_ARTIFACT_ROOT"):
        os.environ.pop(var, None)
    t = time.perf_counter()
    seed_runs(args.runs)
    run_id = seed_sixty()
    print(f"seeded {args.runs} runs + a 60-task run in {time.perf_counter() - t:.1f}s "
          f"({home})")

    from playwright.sync_api import sync_playwright

    port = free_port()
    proc = start_server(port)
    base = f"http://127.0.0.1:{port}"
    rows_ready = ("() => document.querySelectorAll('[data-testid=runs-table] tbody tr')"
                  ".length >= 20")
    graph_ready = ("() => document.querySelectorAll('[data-testid=run-graph] svg g.fy-node')"
                   f".length >= {LAYERS * WIDTH}")
    cases = [("runs list (10,000 runs, page 1)", f"{base}/runs", rows_ready),
             ("runs list filtered (state=FAILED)", f"{base}/runs?state=FAILED", rows_ready),
             ("run page (60 tasks, graph drawn)", f"{base}/runs/{run_id}", graph_ready)]
    results = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update"])
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            for name, url, ready in cases:
                cold = measure(page, url, ready, 1)[0]
                warm = measure(page, url, ready, args.repeat)
                results.append((name, cold, statistics.median(warm), min(warm), max(warm)))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(20)
    print(f"\n{'page':<36} {'first':>8} {'median':>8} {'min':>8} {'max':>8}")
    for name, cold, med, lo, hi in results:
        print(f"{name:<36} {cold:>7.3f}s {med:>7.3f}s {lo:>7.3f}s {hi:>7.3f}s")
    print(f"\n(median/min/max of {args.repeat} loads after the first; Chromium headless, "
          "from navigation until the data is on screen)")


if __name__ == "__main__":
    main()
