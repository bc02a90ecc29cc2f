"""Cancellation: `store.request_cancel(run_id)` on a run whose tasks sleep ends it CANCELED,
kills the task processes (Python and container alike), and starts nothing downstream. Logs
stream while a task runs."""

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kfp import dsl

import flowyard
from flowyard.store import open_store


@dsl.component
def sleepy(seconds: int) -> str:
    import time

    print("going to sleep now")
    time.sleep(seconds)
    return "woke"


@dsl.container_component
def shell_sleep(seconds: int):
    return dsl.ContainerSpec(image="alpine:3", command=["sh", "-c", 'sleep "$0"'], args=[seconds])


@dsl.component
def mark(path: str) -> str:
    with open(path, "w") as f:
        f.write("ran")
    return "ran"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_request_cancel_kills_running_tasks(tmp_path: Path) -> None:
    marker = tmp_path / "downstream-ran"

    @dsl.pipeline
    def long(marker: str):
        py = sleepy(seconds=120).set_cpu_request("0.1")
        sh = shell_sleep(seconds=120).set_cpu_request("0.1")
        mark(path=marker).after(py, sh)

    result: list[flowyard.Run] = []
    worker = threading.Thread(
        target=lambda: result.append(flowyard.run(long, arguments={"marker": str(marker)})),
        daemon=True)
    worker.start()
    store = open_store()
    deadline = time.monotonic() + 60
    pids: list[int] = []
    run_id = ""
    while time.monotonic() < deadline and len(pids) < 2:
        runs = store.list_runs()
        if runs:
            run_id = runs[0].id
            pids = [t.pid for t in store.tasks(run_id)
                    if t.state == "RUNNING" and t.pid and t.name in ("sleepy", "shell-sleep")]
        time.sleep(0.05)
    assert len(pids) == 2, "both sleeping tasks should be running"
    # The log streams while the task runs, not only once it ended.
    deadline = time.monotonic() + 30
    while "going to sleep now" not in flowyard.Run.load(run_id).logs("sleepy"):
        assert time.monotonic() < deadline, "the running task's log never showed its output"
        time.sleep(0.05)

    assert store.request_cancel(run_id)
    worker.join(timeout=30)
    assert not worker.is_alive(), "the run did not end after cancellation"
    run = result[0]
    assert run.state == "CANCELED"
    assert run.error and "cancel" in run.error
    assert run.task("sleepy").state == "CANCELED"
    assert run.task("shell-sleep").state == "CANCELED"
    assert not marker.exists()
    assert all(t.state != "SUCCEEDED" for t in run.tasks if t.name == "mark")
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)
    # A finished run cannot be canceled again.
    assert not store.request_cancel(run_id)

    # The engine process is still healthy: the next run's tasks start and are seen to end.
    @dsl.pipeline
    def quick(marker: str):
        mark(path=marker)

    after = flowyard.run(quick, arguments={"marker": str(marker)})
    assert after.state == "SUCCEEDED", after.error
    assert marker.read_text() == "ran"


def test_cancel_reaches_tasks_waiting_for_resources() -> None:
    """Each task asks for the whole machine, so the second waits; a cancel ends both."""

    @dsl.pipeline
    def queue():
        sleepy(seconds=120).set_cpu_request("4096").set_display_name("first")
        sleepy(seconds=120).set_cpu_request("4096").set_display_name("second")

    result: list[flowyard.Run] = []
    worker = threading.Thread(target=lambda: result.append(flowyard.run(queue)), daemon=True)
    worker.start()
    store = open_store()
    deadline = time.monotonic() + 60
    states: dict[str, str] = {}
    run_id = ""
    while time.monotonic() < deadline and sorted(states.values()) != ["PENDING", "RUNNING"]:
        runs = store.list_runs()
        if runs:
            run_id = runs[0].id
            states = {t.name: t.state for t in store.tasks(run_id)}
        time.sleep(0.05)
    assert sorted(states.values()) == ["PENDING", "RUNNING"], states
    assert store.request_cancel(run_id)
    worker.join(timeout=30)
    assert not worker.is_alive()
    run = result[0]
    assert run.state == "CANCELED"
    assert {t.name: t.state for t in run.tasks} == {"first": "CANCELED", "second": "CANCELED"}


@dsl.component
def record_pid(path: str) -> str:
    import os
    import time

    with open(path, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(120)
    return "done"


def test_cancel_during_the_fork_leaves_no_process(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A cancel that arrives while the task's process is being forked must still stop it."""
    from flowyard.executors.local import Zygote

    real_start = Zygote.start
    forking = threading.Event()

    def slow_start(self: Zygote, *args: Any) -> Any:
        forking.set()
        time.sleep(1.0)  # the cancel lands in here
        return real_start(self, *args)

    monkeypatch.setattr(Zygote, "start", slow_start)
    pid_file = tmp_path / "pid"

    @dsl.pipeline
    def p(path: str):
        record_pid(path=path)

    result: list[flowyard.Run] = []
    worker = threading.Thread(
        target=lambda: result.append(flowyard.run(p, arguments={"path": str(pid_file)})),
        daemon=True)
    worker.start()
    assert forking.wait(60)
    store = open_store()
    assert store.request_cancel(store.list_runs()[0].id)
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert result[0].state == "CANCELED"
    assert result[0].task("record-pid").state == "CANCELED"
    # Had the process survived, it would have written its pid by now and still be sleeping.
    deadline = time.monotonic() + 2
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_file.exists() and pid_file.read_text():
        pid = int(pid_file.read_text())
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid)
