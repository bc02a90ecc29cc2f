"""Scheduling: independent tasks run at the same time, dependent ones never do, and resource
requests (cpu, memory, accelerators) are respected. Overlap is judged from the task intervals
the store records (started_at/finished_at), never from wall-clock thresholds."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from kfp import dsl

import flowyard
from flowyard.pipelines.runner import TaskView
from flowyard.store import open_store


@dsl.component
def nap(seconds: float, tag: str) -> str:
    import time

    time.sleep(seconds)
    return tag


@dsl.container_component
def shell_nap(seconds: float):
    return dsl.ContainerSpec(image="alpine:3", command=["sh", "-c", 'sleep "$0"'], args=[seconds])


def overlap(a: TaskView, b: TaskView) -> bool:
    assert a.started_at and a.finished_at and b.started_at and b.finished_at
    return a.started_at < b.finished_at and b.started_at < a.finished_at


def test_independent_tasks_overlap() -> None:
    @dsl.pipeline
    def fan():
        # Half a CPU each, so they fit side by side even on a one-core machine.
        nap(seconds=0.8, tag="a").set_cpu_request("0.5").set_display_name("a")
        nap(seconds=0.8, tag="b").set_cpu_request("0.5").set_display_name("b")
        shell_nap(seconds=0.8).set_cpu_request("0.5").set_display_name("c")

    run = flowyard.run(fan)
    assert run.state == "SUCCEEDED", run.error
    a, b, c = run.task("a"), run.task("b"), run.task("c")
    assert overlap(a, b) and overlap(a, c) and overlap(b, c)


def test_dependent_tasks_run_in_order() -> None:
    @dsl.pipeline
    def chain():
        first = nap(seconds=0.2, tag="1").set_display_name("first")
        second = nap(seconds=0.2, tag=first.output).set_display_name("second")
        after = nap(seconds=0.1, tag="3").set_display_name("after").after(second)
        assert after

    run = flowyard.run(chain)
    assert run.state == "SUCCEEDED", run.error
    first, second, after = run.task("first"), run.task("second"), run.task("after")
    assert first.finished_at and second.started_at and second.finished_at and after.started_at
    assert first.finished_at <= second.started_at
    assert second.finished_at <= after.started_at


RESOURCE_PIPELINE = '''
from kfp import dsl


@dsl.component
def hold(seconds: float) -> str:
    import os
    import time

    time.sleep(seconds)
    return os.environ.get("CUDA_VISIBLE_DEVICES", "")


@dsl.pipeline
def resources():
    for i in range(3):
        hold(seconds=0.2).set_cpu_request("2").set_display_name(f"cpu-{i}")
    for i in range(2):
        hold(seconds=0.2).set_cpu_request("0.1").set_memory_request("600M").set_display_name(f"mem-{i}")
    for i in range(3):
        hold(seconds=0.2).set_cpu_request("0.1").set_accelerator_limit(1).set_display_name(f"gpu-{i}")
'''


def test_resource_requests_are_respected(tmp_path: Path, fy_home: Path) -> None:
    """A fresh engine process with 2 CPUs, 1 GB and 2 GPUs: tasks asking for 2 CPUs, or 600 MB
    each, never run at the same time; each GPU task gets one device of its own."""
    source = tmp_path / "resources.py"
    source.write_text(textwrap.dedent(RESOURCE_PIPELINE))
    env = {**os.environ, "FLOWYARD_CPUS": "2", "FLOWYARD_MEMORY_BYTES": "1000000000",
           "FLOWYARD_GPUS": "2"}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    proc = subprocess.run([sys.executable, "-m", "flowyard.cli.main", "run", str(source), "--json"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    run = flowyard.Run.load(result["run_id"])
    cpu = [run.task(f"cpu-{i}") for i in range(3)]
    mem = [run.task(f"mem-{i}") for i in range(2)]
    gpu = [run.task(f"gpu-{i}") for i in range(3)]
    for group in (cpu, mem):
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                assert not overlap(a, b), (a.name, b.name)
    devices = [t.outputs["parameters"]["Output"] for t in gpu]
    assert all(d in ("0", "1") for d in devices), devices
    for i, a in enumerate(gpu):
        for b in gpu[i + 1:]:
            if overlap(a, b):
                assert devices[i] != devices[gpu.index(b)]


def test_request_larger_than_the_machine_is_named() -> None:
    """Kubernetes would leave such a pod Pending forever; here it runs with what the machine
    has, and the run carries a warning event that names the request."""

    @dsl.pipeline
    def greedy():
        nap(seconds=0.0, tag="x").set_cpu_request("4096").set_memory_request("64Pi")

    run = flowyard.run(greedy)
    assert run.state == "SUCCEEDED", run.error
    events = [e for e in open_store().events(run.id) if e.reason == "ResourcesReduced"]
    assert len(events) == 1
    assert events[0].type == "Warning"
    assert "requests 4096 CPUs" in events[0].message
    assert "GiB of memory" in events[0].message
    assert events[0].task_id == run.task("nap").id


def test_malformed_resource_quantity_fails_the_task() -> None:
    from flowyard.pipelines.loader import load_pipeline

    @dsl.pipeline
    def odd():
        nap(seconds=0.0, tag="x")

    doc = load_pipeline(odd)
    container = doc.spec["deploymentSpec"]["executors"]["exec-nap"]["container"]
    container["resources"] = {"resourceCpuRequest": "lots"}
    run = flowyard.run(doc)
    assert run.state == "FAILED"
    error = run.task("nap").error or ""
    assert "resources.cpu" in error and "'lots'" in error
