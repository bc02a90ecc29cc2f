"""Pods against the floor, side by side in one run: apply -> Running and apply -> Job
complete for 1 and 20 trivial pods, against starting the same commands directly from Python
(subprocess.Popen; a Job's floor runs them `parallelism` at a time and waits for each).

The control plane runs in this process (the API's service functions, the controller manager,
the kubelet, the local executor), so what is measured is Flowyard's own cost, not HTTP's.

    python benchmarks/pods.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any

COMMANDS = {"true": ["true"], "sleep 0.2": ["sleep", "0.2"]}


def _floor_running(argv: list[str], n: int) -> float:
    t0 = time.perf_counter()
    procs = [subprocess.Popen(argv) for _ in range(n)]
    took = time.perf_counter() - t0  # Popen returns once each child has exec'd
    for p in procs:
        p.kill()
        p.wait()
    return took


def _floor_job(argv: list[str], n: int, parallelism: int) -> float:
    t0 = time.perf_counter()
    running: list[subprocess.Popen[bytes]] = []
    left = n
    while left or running:
        while left and len(running) < parallelism:
            running.append(subprocess.Popen(argv))
            left -= 1
        # Wait for any one to end, as a Job's next pod starts when one finishes.
        while True:
            done = [p for p in running if p.poll() is not None]
            if done:
                for p in done:
                    running.remove(p)
                break
            time.sleep(0.0005)
    return time.perf_counter() - t0


async def _until(check: Callable[[], bool], every: float = 0.001) -> None:
    while not await asyncio.to_thread(check):
        await asyncio.sleep(every)


async def _pods_running(svc: Any, n: int, tag: str) -> float:
    from flowyard.services import resources as res
    from flowyard.store.resources import ResourceStore

    rs = ResourceStore(svc.store)
    ref = res.Ref("", "v1", "pods", "default")
    t0 = time.perf_counter()
    for i in range(n):
        await asyncio.to_thread(res.create, svc, ref, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{tag}-{i}",
                                                           "labels": {"b": tag}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "busybox",
                                     "command": ["sleep", "30"]}]}})

    def all_running() -> bool:
        rows = [r for r in rs.list("", "pods", "default") if (r.labels or {}).get("b") == tag]
        return len(rows) == n and all((r.status or {}).get("phase") == "Running" for r in rows)

    await _until(all_running)
    took = time.perf_counter() - t0
    for i in range(n):
        await asyncio.to_thread(res.delete, svc, res.Ref("", "v1", "pods", "default",
                                                         f"{tag}-{i}"))
    return took


async def _job(svc: Any, argv: list[str], n: int, parallelism: int, tag: str) -> float:
    from flowyard.services import resources as res
    from flowyard.store.resources import Key, ResourceStore

    rs = ResourceStore(svc.store)
    t0 = time.perf_counter()
    await asyncio.to_thread(res.create, svc, res.Ref("batch", "v1", "jobs", "default"), {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": tag},
        "spec": {"completions": n, "parallelism": parallelism, "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
                                                      "command": argv}]}}}})

    def complete() -> bool:
        conds = (rs.get(Key("batch", "jobs", "default", tag)).status or {}).get("conditions")
        return any(c["type"] == "Complete" for c in conds or [])

    await _until(complete)
    return time.perf_counter() - t0


async def _executor_alone(n: int, tag: str) -> float:
    """What the executor itself takes for n pods' starts: a sandbox each, then the work in it
    (the part of a pod's start below the kubelet)."""
    from flowyard.executors import get_executor
    from flowyard.executors.base import LogRef, Resources, Work

    ex = get_executor()

    async def one(i: int) -> Any:
        sandbox = f"{tag}-{i}"
        await ex.create_sandbox(sandbox, sandbox)
        return await ex.submit(Work(task_id=f"{tag}-{i}", argv=["sleep", "30"],
                                    env={"PATH": os.environ.get("PATH", "")}, log_path="",
                                    resources=Resources(cpu=0.0), sandbox=sandbox,
                                    log=LogRef(("bench", tag, str(i)))))

    t0 = time.perf_counter()
    handles = await asyncio.gather(*(one(i) for i in range(n)))
    took = time.perf_counter() - t0
    for i, h in enumerate(handles):
        h.cancel(0.0)
        await h.wait_exit()
        await ex.release(h)
        await ex.remove_sandbox(f"{tag}-{i}")
    return took


async def _measure(rounds: int) -> list[tuple[str, float, float]]:
    from flowyard.services.runtime import ControlPlane

    plane = ControlPlane(scheduler=False, recover=False)
    svc = await plane.start()
    rows: list[tuple[str, float, float]] = []
    try:
        await _pods_running(svc, 1, "warm")  # the executor's zygote, first imports
        await _job(svc, ["true"], 1, 1, "warm-job")
        k = 0
        for n in (1, 20):
            ours, floor = [], []
            for _ in range(rounds):
                k += 1
                ours.append(await _pods_running(svc, n, f"run{k}"))
                floor.append(await asyncio.to_thread(_floor_running, ["sleep", "30"], n))
                await asyncio.sleep(0.5)  # deleted pods finish stopping
            rows.append((f"apply -> Running, {n} pod(s)", statistics.median(ours),
                         statistics.median(floor)))
            below = [await _executor_alone(n, f"ex{k}-{r}") for r in range(rounds)]
            rows.append((f"  of which the executor alone (sandbox + start), {n}",
                         statistics.median(below), statistics.median(floor)))
        for label, argv in COMMANDS.items():
            for n, par in ((1, 1), (20, 2)):
                ours, floor = [], []
                for _ in range(rounds):
                    k += 1
                    ours.append(await _job(svc, argv, n, par, f"job{k}"))
                    floor.append(await asyncio.to_thread(_floor_job, argv, n, par))
                rows.append((f"apply -> Job complete, {n} x `{label}`, parallelism {par}",
                             statistics.median(ours), statistics.median(floor)))
    finally:
        await plane.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sandbox", choices=["netns", "loopback"], default=None,
                        help="the executor's pod network (default: netns where root may)")
    args = parser.parse_args()
    if args.sandbox == "loopback":
        os.environ["FLOWYARD_SANDBOX"] = "loopback"
    home = tempfile.mkdtemp(prefix="fy-bench-pods-")
    os.environ["FLOWYARD_HOME"] = home
    try:
        rows = asyncio.run(_measure(args.rounds))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {'Flowyard':>10}  {'floor':>10}  {'added':>10}  {'ratio':>6}")
    for label, ours, floor in rows:
        added = ours - floor
        print(f"{label:{width}}  {ours * 1000:8.1f}ms  {floor * 1000:8.1f}ms  "
              f"{added * 1000:8.1f}ms  {ours / floor:5.2f}x")
    from flowyard.executors import network

    mode = "network namespace" if network.can_use_netns() else "loopback address"
    print(f"(median of {args.rounds}; pods' sandboxes: one {mode} each)")


if __name__ == "__main__":
    main()
