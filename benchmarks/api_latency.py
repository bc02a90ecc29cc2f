#!/usr/bin/env python3
"""KFP API latency with a big store (issue 4: list pages under 50 ms).

For SQLite and PostgreSQL in turn: seeds a fresh store with 10,000 runs (bulk-inserted rows,
each with a real compiled pipeline spec and three tasks, spread over three experiments),
starts `flowyard up` on a free port, and times over HTTP (httpx, keep-alive) from request to
parsed JSON:

    create   POST /runs with an inline pipeline (the run then executes in the background)
    get      GET /runs/{id} (run_details with its three tasks)
    list     GET /runs?page_size=20, newest first; also deep in the list (page 251 by its token),
             scoped to one experiment, and filtered on a substring of the name
    exp      GET /experiments (list) and POST /experiments

PostgreSQL: uses FLOWYARD_TEST_PG_URL's server if set, else starts a private one with
scripts/pg.sh (skipped if PostgreSQL is not installed). Prints a table; asserts nothing.

    python benchmarks/api_latency.py [--runs 10000] [--samples 200] [--backend sqlite|postgres]
"""

# No `from __future__ import annotations`: kfp reads the component annotations as real types.

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from kfp import dsl

warnings.filterwarnings("ignore", category=FutureWarning)  # kfp's notice about base_image
ROOT = Path(__file__).resolve().parents[1]
API = "/apis/v2beta1"


@dsl.component
def add(a: int, b: int) -> int:
    return a + b


@dsl.pipeline(name="bench")
def bench(x: int = 1) -> int:
    first = add(a=x, b=1)
    second = add(a=first.output, b=2)
    return add(a=second.output, b=3).output


def compiled_spec() -> dict[str, Any]:
    from flowyard.pipelines.loader import load_pipeline

    return load_pipeline(bench).spec


def seed(n: int, spec: dict[str, Any]) -> list[str]:
    """Insert `n` finished runs with three tasks each; returns the experiment ids."""
    from sqlalchemy import insert

    from flowyard.store import open_store
    from flowyard.store.schema import Experiment, Run, Task

    store = open_store()
    exps = [str(uuid.uuid4()) for _ in range(3)]
    rng = random.Random(4)
    now = datetime.now(UTC)
    with store.session() as s, s.begin():
        s.execute(insert(Experiment), [{"id": e, "name": f"bench-{i}", "description": ""}
                                       for i, e in enumerate(exps)])
        for start in range(0, n, 2000):
            runs, tasks = [], []
            for i in range(start, min(n, start + 2000)):
                created = now - timedelta(seconds=rng.uniform(60, 30 * 86400))
                run_id = str(uuid.uuid4())
                runs.append({"id": run_id, "display_name": f"seeded run {i}",
                             "pipeline_name": "bench", "experiment_id": exps[i % 3],
                             "state": rng.choice(["SUCCEEDED"] * 8 + ["FAILED", "CANCELED"]),
                             "spec": spec, "arguments": {"x": i}, "outputs": {"Output": i + 6},
                             "created_at": created, "started_at": created,
                             "finished_at": created + timedelta(seconds=3)})
                for k, name in enumerate(("add", "add-2", "add-3")):
                    tasks.append({"id": str(uuid.uuid4()), "run_id": run_id, "path": name,
                                  "name": name, "state": "SUCCEEDED", "inputs": {},
                                  "outputs": {"Output": i + k}, "created_at": created,
                                  "started_at": created, "finished_at": created})
            s.execute(insert(Run), runs)
            s.execute(insert(Task), tasks)
    if store.engine.dialect.name == "postgresql":
        # A live database has planner statistics; a bulk load has none until autovacuum runs.
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    return exps


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "flowyard.cli.main", "up", "--port",
                             str(port), "--log-level", "warning"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}{API}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("flowyard up did not start")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


@contextmanager
def postgres() -> Iterator[str | None]:
    base = os.environ.get("FLOWYARD_TEST_PG_URL")
    if base:
        yield base
        return
    # pg.sh starts a throwaway cluster and stops it when its shell exits (stdin closes).
    shell = subprocess.Popen(
        ["bash", "-c", "source scripts/pg.sh && echo \"URL=${FLOWYARD_TEST_PG_URL:-}\" && cat"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert shell.stdout is not None and shell.stdin is not None
    line = shell.stdout.readline().strip()
    try:
        yield line.removeprefix("URL=") or None
    finally:
        shell.stdin.close()
        shell.wait(60)


def fresh_database(base: str) -> str:
    import sqlalchemy as sa

    name = f"fy_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + f"/{name}"


def timed(fn: Callable[[int], Any], samples: int) -> list[float]:
    fn(0)  # warm
    out = []
    for i in range(samples):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def measure(url: str, exps: list[str], spec: dict[str, Any], samples: int) -> dict[str, list[
        float]]:
    http = httpx.Client(base_url=url, timeout=60)

    def ok(resp: httpx.Response) -> Any:
        resp.raise_for_status()
        return resp.json()

    page = ok(http.get(f"{API}/runs", params={"page_size": 20}))
    ids = [r["run_id"] for r in page["runs"]]
    # The token of page 251 (runs 5,001-5,020), reached as a client does: page by page.
    deep = None
    for _ in range(250):
        deep = ok(http.get(f"{API}/runs", params={"page_size": 20, "page_token": deep}))[
            "next_page_token"]
    name_filter = json.dumps({"predicates": [
        {"operation": "IS_SUBSTRING", "key": "display_name", "stringValue": "run 77"}]})
    results = {
        "get run (3 tasks)": timed(lambda i: ok(http.get(f"{API}/runs/{ids[i % len(ids)]}")),
                                   samples),
        "list runs, first page": timed(lambda i: ok(http.get(
            f"{API}/runs", params={"page_size": 20, "sort_by": "created_at desc"})), samples),
        "list runs, page 251": timed(lambda i: ok(http.get(
            f"{API}/runs", params={"page_size": 20, "page_token": deep})), samples),
        "list runs, one experiment": timed(lambda i: ok(http.get(
            f"{API}/runs", params={"page_size": 20, "experiment_id": exps[i % 3]})), samples),
        "list runs, name filter": timed(lambda i: ok(http.get(
            f"{API}/runs", params={"page_size": 20, "filter": name_filter})), samples),
        "list experiments": timed(lambda i: ok(http.get(f"{API}/experiments")), samples),
        "create experiment": timed(lambda i: ok(http.post(
            f"{API}/experiments", json={"display_name": f"e-{uuid.uuid4().hex}"})), samples),
        "create run": timed(lambda i: ok(http.post(f"{API}/runs", json={
            "display_name": f"created {i}", "pipeline_spec": spec,
            "runtime_config": {"parameters": {"x": i}}})), min(samples, 100)),
    }
    total = ok(http.get(f"{API}/runs", params={"page_size": 1}))["total_size"]
    results["_total"] = [float(total)]
    return results


def run_backend(name: str, db_url: str | None, n: int, samples: int) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "FLOWYARD_HOME": home}
        if db_url:
            env["FLOWYARD_DATABASE_URL"] = db_url
        os.environ.update({k: v for k, v in env.items() if k.startswith("FLOWYARD_")})
        if not db_url:
            os.environ.pop("FLOWYARD_DATABASE_URL", None)
        spec = compiled_spec()
        t0 = time.perf_counter()
        exps = seed(n, spec)
        print(f"{name}: seeded {n} runs in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        with server(env) as url:
            return measure(url, exps, spec, samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    results: dict[str, dict[str, list[float]]] = {}
    if args.backend in ("sqlite", "both"):
        res = run_backend("sqlite", None, args.runs, args.samples)
        if res:
            results["SQLite"] = res
    if args.backend in ("postgres", "both"):
        with postgres() as base:
            if base is None:
                print("PostgreSQL is not installed: skipping it", file=sys.stderr)
            else:
                res = run_backend("postgres", fresh_database(base), args.runs, args.samples)
                if res:
                    results["PostgreSQL"] = res
    print(f"\nKFP API latency over HTTP with {args.runs:,} runs stored (ms; p50 / p95 / mean)")
    names = [k for k in next(iter(results.values())) if not k.startswith("_")]
    header = f"{'operation':<28}" + "".join(f"{b:>26}" for b in results)
    print(header)
    print("-" * len(header))
    for op in names:
        cells = ""
        for res in results.values():
            vals = sorted(res[op])
            p95 = vals[min(len(vals) - 1, int(len(vals) * 0.95))]
            cells += f"{statistics.median(vals):>10.1f} / {p95:>5.1f} / {statistics.mean(vals):>5.1f}"
        print(f"{op:<28}{cells}")
    for backend, res in results.items():
        print(f"{backend}: {int(res['_total'][0]):,} runs stored at the end")


if __name__ == "__main__":
    main()
