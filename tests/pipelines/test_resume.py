"""Nothing lost, nothing twice: `flowyard run` killed with SIGKILL mid-run is finished by
`flowyard run --resume RUN_ID` without re-executing any task that had finished, with its
outputs and artifacts intact; the task in flight keeps its process (adopted, not rerun); a
FAILED run is retried the same way."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kfp import dsl

import flowyard
from flowyard.pipelines.runner import reopen, resume
from flowyard.store import open_store

PIPELINE = '''
from kfp import dsl
from kfp.dsl import Dataset, Input, Output


@dsl.component
def early(counter: str, text: str, out: Output[Dataset]) -> str:
    with open(counter, "a") as f:
        f.write("ran\\n")
    with open(out.path, "w") as f:
        f.write(text)
    out.metadata["words"] = len(text.split())
    return text


@dsl.component
def slow(counter: str, ds: Input[Dataset], suffix: str, flag: str) -> str:
    import os
    import time

    with open(counter, "a") as f:
        f.write(f"{os.getpid()}\\n")
    while not os.path.exists(flag):  # still running when its driver is killed
        time.sleep(0.05)
    with open(ds.path) as f:
        return f.read() + suffix


@dsl.pipeline
def resumable(ca: str, cb: str, cs: str, flag: str) -> str:
    a = early(counter=ca, text="hello world").set_display_name("early-a")
    b = early(counter=cb, text="other").set_display_name("early-b")
    s = slow(counter=cs, ds=a.outputs["out"], suffix=b.outputs["Output"], flag=flag)
    return s.output
'''


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "flowyard.cli.main", *args]


def _wait_for(predicate: Callable[[], str | None], what: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sigkill_then_resume_loses_nothing(tmp_path: Path, backend: str,
                                           request: pytest.FixtureRequest) -> None:
    if backend == "postgres":
        request.getfixturevalue("pg_url")  # the CLI processes inherit FLOWYARD_DATABASE_URL
    source = tmp_path / "resumable.py"
    source.write_text(textwrap.dedent(PIPELINE))
    ca, cb, cs = (tmp_path / f"{n}.count" for n in ("a", "b", "s"))
    flag = tmp_path / "release"
    params = ["-p", f"ca={ca}", "-p", f"cb={cb}", "-p", f"cs={cs}", "-p", f"flag={flag}"]
    store = open_store()
    proc = subprocess.Popen(_cli("run", str(source), "--json", *params), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    orphan = 0
    try:
        def early_done_and_slow_running() -> str | None:
            if proc.poll() is not None:
                assert proc.stderr
                raise AssertionError(f"flowyard run exited early: {proc.stderr.read()!r}")
            runs = store.list_runs()
            if not runs:
                return None
            tasks = {t.name: t for t in store.tasks(runs[0].id)}
            ok = all(tasks.get(n) and tasks[n].state == "SUCCEEDED" for n in ("early-a", "early-b"))
            if ok and tasks.get("slow") and tasks["slow"].state == "RUNNING" and cs.exists():
                return runs[0].id
            return None

        run_id = _wait_for(early_done_and_slow_running, "the early tasks to succeed")
        orphan = int(cs.read_text().split()[0])
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        assert proc.stdout and proc.stderr
        proc.stdout.close()
        proc.stderr.close()

    killed = store.get_run(run_id)
    assert killed is not None and killed.state == "RUNNING"  # nobody recorded an end
    early_outputs = {t.name: t.outputs for t in store.tasks(run_id) if t.name.startswith("early")}

    # The whole process group of `flowyard run` got SIGKILL; the task's process lives on
    # under its supervisor.
    assert _alive(orphan)
    try:
        resumed = subprocess.Popen(_cli("run", "--resume", run_id, "--json"), text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_for(lambda: any(e.reason == "Adopted" for e in store.events(run_id)),
                  "the resumed run to adopt the task")
        flag.touch()
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, out + err
        result = json.loads(out.strip().splitlines()[-1])
        assert result["run_id"] == run_id
        assert result["state"] == "SUCCEEDED"
        assert result["outputs"] == {"Output": "hello worldother"}
        assert not _alive(orphan)  # it finished; its result is the run's
    finally:
        if orphan and _alive(orphan):
            with contextlib.suppress(ProcessLookupError):
                os.kill(orphan, signal.SIGKILL)

    # Every task ran once: the interrupted one was adopted, not started again.
    assert len(ca.read_text().splitlines()) == 1
    assert len(cb.read_text().splitlines()) == 1
    assert cs.read_text().split() == [str(orphan)]
    run = flowyard.Run.load(run_id)
    assert run.state == "SUCCEEDED"
    assert {t.name: t.state for t in run.tasks} == {"early-a": "SUCCEEDED", "early-b": "SUCCEEDED",
                                                   "slow": "SUCCEEDED"}
    for t in run.tasks:
        if t.name.startswith("early"):
            assert t.outputs == early_outputs[t.name]
    art = run.task("early-a").outputs["artifacts"]["out"][0]
    assert Path(art["uri"]).read_text() == "hello world"
    assert art["metadata"] == {"words": 2}
    stored = {(a.name, a.uri) for a in store.artifacts(run_id)}
    assert ("out", art["uri"]) in stored

    again = subprocess.run(_cli("run", "--resume", run_id), capture_output=True, text=True,
                           timeout=60)
    assert again.returncode != 0
    assert "already SUCCEEDED; nothing to resume" in " ".join(again.stderr.split())


@dsl.component
def once(counter: str) -> str:
    with open(counter, "a") as f:
        f.write("ran\n")
    return "first"


@dsl.component
def gate(flag: str, text: str) -> str:
    import os

    if os.path.exists(flag):
        raise RuntimeError("gate closed")
    return text + "+second"


def test_failed_run_is_retried_without_redoing_finished_tasks(tmp_path: Path) -> None:
    counter, flag = tmp_path / "once.count", tmp_path / "closed"
    flag.touch()

    @dsl.pipeline
    def two_steps(counter: str, flag: str) -> str:
        return gate(flag=flag, text=once(counter=counter).output).output

    run = flowyard.run(two_steps, arguments={"counter": str(counter), "flag": str(flag)})
    assert run.state == "FAILED"
    assert "gate closed" in (run.error or "")
    flag.unlink()
    reopen(run.id)
    retried = resume(run.id)
    assert retried.id == run.id
    assert retried.state == "SUCCEEDED", retried.error
    assert retried.outputs == {"Output": "first+second"}
    assert retried.error is None
    assert len(counter.read_text().splitlines()) == 1


WAITING = '''
from kfp import dsl


@dsl.component
def wait_for(flag: str) -> str:
    import os
    import time

    while not os.path.exists(flag):
        time.sleep(0.05)
    return "released"


@dsl.pipeline
def waiting(flag: str) -> str:
    return wait_for(flag=flag).output
'''


def test_resume_of_a_run_whose_driver_is_alive_is_refused(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from flowyard.cli.main import app

    source = tmp_path / "waiting.py"
    source.write_text(textwrap.dedent(WAITING))
    flag = tmp_path / "go"
    store = open_store()
    proc = subprocess.Popen(_cli("run", str(source), "--json", "-p", f"flag={flag}"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def running() -> str | None:
            assert proc.poll() is None, proc.communicate()
            runs = store.list_runs()
            if runs and any(t.state == "RUNNING" for t in store.tasks(runs[0].id)):
                return runs[0].id
            return None

        run_id = _wait_for(running, "the task to start")
        refused = CliRunner().invoke(app, ["run", "--resume", run_id, "--json"])
        assert refused.exit_code == 2
        assert "still being driven by process" in " ".join(refused.stderr.split())
        with pytest.raises(Exception, match="still being driven"):
            resume(run_id)
        flag.touch()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["state"] == "SUCCEEDED" and result["outputs"] == {"Output": "released"}
    assert flowyard.Run.load(run_id).state == "SUCCEEDED"
