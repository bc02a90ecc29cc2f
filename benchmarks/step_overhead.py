#!/usr/bin/env python3
"""Per-step overhead of Flowyard against kfp.local, on trivial Python components.

Runs a 6-step and a 26-step chain (each step adds 1 to an int) and a 20-wide fan-out, through
Flowyard (`flowyard.run`, caching off, after one warm-up run) and through kfp.local
(`SubprocessRunner(use_venv=False)`), and prints wall times (median of --repeat runs), the per-step
overhead (the slope between the chains: (t26 - t6) / 20) and how busy the cores were during
Flowyard's fan-out. Goal (issue 2): Flowyard's per-step overhead at most 1/20 of kfp.local's.
kfp.local runs each component's `pip install kfp==<installed version>` line, which is a no-op here.

    python benchmarks/step_overhead.py [--repeat 3] [--no-kfp-local] [--profile]
"""

# No `from __future__ import annotations`: kfp reads the component annotations as real types.

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kfp import dsl

warnings.filterwarnings("ignore", category=FutureWarning)  # kfp's notice about base_image


@dsl.component
def add_one(x: int) -> int:
    return x + 1


def chain(n: int) -> Callable[..., Any]:
    @dsl.pipeline(name=f"chain-{n}")
    def pipeline(x: int = 0) -> int:
        task = add_one(x=x)
        for _ in range(n - 1):
            task = add_one(x=task.output)
        return task.output

    return pipeline


def fan_out(width: int) -> Callable[..., Any]:
    @dsl.pipeline(name=f"fan-out-{width}")
    def pipeline() -> None:
        for i in range(width):
            add_one(x=i)

    return pipeline


def proc_cpu_seconds(pid: int, children: bool = False) -> float:
    """utime+stime of a process (and, with children=True, of its reaped children) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class FlowyardRunner:
    name = "Flowyard"

    def __init__(self, home: Path) -> None:
        os.environ["FLOWYARD_HOME"] = str(home)
        for var in ("FLOWYARD_DATABASE_URL", "FLOWYARD_ARTIFACT_ROOT"):
            os.environ.pop(var, None)
        import flowyard

        self._flowyard = flowyard

    def run(self, pipeline: Callable[..., Any]) -> float:
        start = time.perf_counter()
        result = self._flowyard.run(pipeline, {}, enable_caching=False)
        elapsed = time.perf_counter() - start
        if result.state != "SUCCEEDED":
            raise RuntimeError(f"Flowyard run {result.id} ended {result.state}: {result.error}")
        return elapsed

    def zygote_pid(self) -> int | None:
        from flowyard.executors.local import shared_local_executor

        proc = shared_local_executor().zygote._proc  # the warm process tasks are forked from
        return proc.pid if proc is not None else None


class KfpLocalRunner:
    name = "kfp.local"

    def __init__(self, root: Path) -> None:
        from kfp import local

        local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))

    def run(self, pipeline: Callable[..., Any]) -> float:
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), quiet_stderr():
            pipeline()
        return time.perf_counter() - start


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """kfp.local logs every task (and its subprocess output) to fd 2; keep the table readable."""
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def flowyard_cpu(runner: Any) -> float:
    """CPU seconds used so far by this process, the zygote and the task processes it reaped."""
    zygote = runner.zygote_pid()
    return proc_cpu_seconds(os.getpid()) + (proc_cpu_seconds(zygote, children=True) if zygote else 0.0)


def measure(runner: Any, repeat: int, with_cpu: bool = False) -> dict[str, float]:
    """Median wall time of each pipeline; with_cpu adds Flowyard's CPU seconds per run and, for
    the fan-out, the share of all cores it kept busy (its own processes, and machine-wide)."""
    times: dict[str, list[float]] = {"chain6": [], "chain26": [], "fanout20": []}
    cpu: dict[str, list[float]] = {key: [] for key in times}
    cpu_share: list[float] = []
    machine_share: list[float] = []
    pipelines = {"chain6": chain(6), "chain26": chain(26), "fanout20": fan_out(20)}
    cores = os.cpu_count() or 1
    for i in range(repeat):
        for key, pipeline in pipelines.items():
            cpu0 = flowyard_cpu(runner) if with_cpu else 0.0
            busy0, total0 = machine_busy()
            times[key].append(runner.run(pipeline))
            busy1, total1 = machine_busy()
            print(f"  {runner.name:9} run {i + 1}/{repeat} {key:9} {times[key][-1]:7.3f} s "
                  f"(machine busy {(busy1 - busy0) / max(1, total1 - total0):.0%})", flush=True)
            if with_cpu:
                cpu[key].append(flowyard_cpu(runner) - cpu0)
                if key == "fanout20":
                    cpu_share.append(cpu[key][-1] / (times[key][-1] * cores))
                    machine_share.append((busy1 - busy0) / max(1, total1 - total0))
    result = {key: statistics.median(values) for key, values in times.items()}
    result["per_step"] = (result["chain26"] - result["chain6"]) / 20
    if with_cpu:
        result["cpu_per_step"] = (statistics.median(cpu["chain26"]) - statistics.median(cpu["chain6"])) / 20
        result["cpu_share"] = statistics.median(cpu_share)
        result["machine_share"] = statistics.median(machine_share)
    return result


def profile_flowyard(runner: FlowyardRunner) -> None:
    """cProfile of one 26-step chain in the engine process (task children are not profiled)."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    runner.run(chain(26))
    prof.disable()
    stats = pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative")
    print("\n## cProfile of the 26-step chain in the engine process (cumulative)\n")
    stats.print_stats(35)
    print("\n## Same, by own time\n")
    stats.sort_stats("tottime").print_stats(20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each pipeline; the median counts")
    parser.add_argument("--no-kfp-local", action="store_true", help="measure Flowyard only")
    parser.add_argument("--profile", action="store_true", help="also cProfile one Flowyard 26-step run")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fy-bench-") as tmp:
        flowyard = FlowyardRunner(Path(tmp) / "home")
        print(f"warm-up: {flowyard.run(chain(6)):.3f} s (starts the zygote, creates the store)")
        results = {flowyard.name: measure(flowyard, opts.repeat, with_cpu=True)}
        if opts.profile:
            profile_flowyard(flowyard)
        if not opts.no_kfp_local:
            results["kfp.local"] = measure(KfpLocalRunner(Path(tmp) / "kfp-root"), opts.repeat)

    cores = os.cpu_count() or 1
    print(f"\nMedian of {opts.repeat} run(s), {cores} cores, caching off.\n")
    print(f"| {'':10} | 6-step chain | 26-step chain | per step | 20-wide fan-out |")
    print(f"|{'-' * 12}|{'-' * 14}|{'-' * 15}|{'-' * 10}|{'-' * 17}|")
    for name, r in results.items():
        print(f"| {name:10} | {r['chain6']:10.3f} s | {r['chain26']:11.3f} s | "
              f"{r['per_step'] * 1000:5.0f} ms | {r['fanout20']:13.3f} s |")
    fy = results["Flowyard"]
    print(f"\nFlowyard CPU per step (engine + zygote + task processes, chain slope): "
          f"{fy['cpu_per_step'] * 1000:.0f} ms (unlike wall time, not inflated by other load).")
    print(f"Flowyard fan-out: its processes used {fy['cpu_share']:.0%} of {cores} cores x wall time "
          f"(machine-wide busy: {fy['machine_share']:.0%}; above Flowyard's share = other load).")
    if "kfp.local" in results:
        kl = results["kfp.local"]
        ratio = kl["per_step"] / fy["per_step"] if fy["per_step"] > 0 else float("inf")
        verdict = "meets" if ratio >= 20 else "misses"
        print(f"Per-step overhead: kfp.local / Flowyard = {ratio:.1f}x ({verdict} the 20x goal); "
              f"fan-out {kl['fanout20'] / fy['fanout20']:.1f}x faster.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
