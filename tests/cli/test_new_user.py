"""Issue 8, "what a new user hit", the command line: `logs -f` follows a run to its end
(waiting for tasks not started yet, a header per task and loop iteration); `runs list`
never cuts an id; an ambiguous run id prefix names the runs it matches; every missing
parameter is named; `--version` and `-h`; plain progress lines when stdout is not a
terminal; a second `flowyard up` on the same home is refused, naming the first."""

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import flowyard
from flowyard.cli.main import command
from flowyard.store import open_store
from tests.api.conftest import Server, free_port

PIPELINES = '''
from kfp import dsl


@dsl.component
def warm_up(seconds: float) -> str:
    import time

    time.sleep(seconds)
    print("warmed up")
    return "ok"


@dsl.component
def talk(n: int, lines: int) -> int:
    import time

    for i in range(lines):
        print(f"item {n} line {i}", flush=True)
        time.sleep(0.2)
    return n


@dsl.pipeline
def chatty(seconds: float = 2.0, lines: int = 5):
    first = warm_up(seconds=seconds)
    with dsl.ParallelFor(items=[1, 2, 3]) as item:
        talk(n=item, lines=lines).after(first)


@dsl.pipeline
def needs(alpha: str, beta: int, gamma: float, delta: str = "d"):
    talk(n=beta, lines=1)
'''


@pytest.fixture
def pipelines(tmp_path: Path) -> Path:
    path = tmp_path / "pipelines.py"
    path.write_text(textwrap.dedent(PIPELINES))
    return path


def fy(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowyard.cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **env})


def popen(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "flowyard.cli.main", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def started(pipelines: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`flowyard run chatty` in the background, and its run id once the run exists."""
    runner = popen("run", f"{pipelines}:chatty", "--json")
    try:
        store = open_store()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not store.list_runs():
            assert runner.poll() is None, runner.communicate()
            time.sleep(0.05)
        runs = store.list_runs()
        assert runs, "the run was never recorded"
        yield runner, runs[0].id
    finally:
        if runner.poll() is None:
            runner.kill()
        runner.communicate()


def test_logs_follow_waits_for_tasks_and_ends_with_the_run(
        started: tuple[subprocess.Popen[str], str]) -> None:
    runner, run_id = started
    store = open_store()
    assert not any(t.name == "talk" for t in store.tasks(run_id))  # nothing talks yet
    follow = fy("logs", "-f", run_id)
    assert follow.returncode == 0, follow.stderr
    # It returned because the run ended, not before.
    assert runner.wait(60) == 0
    assert store.get_run(run_id).state == "SUCCEEDED"
    assert f"run {run_id} SUCCEEDED" in follow.stderr
    out = follow.stdout
    assert "warmed up" in out
    for n in (1, 2, 3):
        lines = [line for line in out.splitlines() if line.startswith(f"item {n} ")]
        assert lines == [f"item {n} line {i}" for i in range(5)]  # every line, once, in order
    headers = re.findall(r"^==> (.*) <==$", out, re.M)
    assert any(h.startswith("warm-up") for h in headers)
    for n, i in ((1, 0), (2, 1), (3, 2)):
        assert any(h.startswith(f"for-loop-2 / [{i}] {n} / talk") for h in headers), headers
    # Every line under the header of the task that wrote it.
    current = ""
    for line in out.splitlines():
        if line.startswith("==> "):
            current = line
        elif line.startswith("item "):
            n = int(line.split()[1])
            assert f"[{n - 1}] {n} / talk" in current, (line, current)


def test_logs_follow_of_a_task_not_started_yet_waits_for_it(
        started: tuple[subprocess.Popen[str], str]) -> None:
    runner, run_id = started
    follow = fy("logs", "-f", run_id, "talk")
    assert follow.returncode == 0, follow.stderr
    assert runner.wait(60) == 0
    assert "warmed up" not in follow.stdout
    for n in (1, 2, 3):
        assert f"item {n} line 4" in follow.stdout
    # "talk" names three loop iterations: each gets its header (again whenever the output
    # switches from one to another, as `tail -f` does with several files).
    headers = re.findall(r"^==> (for-loop-2 / \[\d\] \d / talk)", follow.stdout, re.M)
    assert sorted(set(headers)) == [f"for-loop-2 / [{i}] {i + 1} / talk" for i in range(3)]


def test_logs_of_a_run_taken_from_the_cache_show_the_reused_log(pipelines: Path) -> None:
    # Before: `logs RUN` of a run whose tasks all came from the cache printed nothing (exit 0),
    # and `logs -f RUN talk` said "task 'talk' never ran", though its outputs were there.
    args = ("run", f"{pipelines}:chatty", "-p", "seconds=0", "-p", "lines=2", "--json")
    first = fy(*args)
    assert first.returncode == 0, first.stderr
    again = fy(*args)
    assert again.returncode == 0, again.stderr
    store = open_store()
    original, cached = sorted(store.list_runs(), key=lambda r: r.created_at)
    assert {t.state for t in store.tasks(cached.id) if t.kind == "container"} == {"CACHED"}
    for follow in ((), ("-f",)):
        shown = fy("logs", *follow, cached.id, "talk")
        assert shown.returncode == 0, shown.stderr
        for n in (1, 2, 3):
            assert f"item {n} line 1" in shown.stdout
        headers = re.findall(r"^==> (.*) <==$", shown.stdout, re.M)
        assert len(set(headers)) == 3, headers
        assert all(f"(cached: the log of run {original.id})" in h for h in headers), headers
    every = fy("logs", cached.id)
    assert "warmed up" in every.stdout and "item 3 line 0" in every.stdout


def test_logs_follow_of_a_task_the_pipeline_lacks_is_an_error(
        started: tuple[subprocess.Popen[str], str]) -> None:
    _, run_id = started
    follow = fy("logs", "-f", run_id, "no-such-task")
    assert follow.returncode == 2
    assert "has no task 'no-such-task'" in follow.stderr
    assert "talk" in follow.stderr and "warm-up" in follow.stderr


def test_logs_follow_stops_when_the_runs_driver_is_gone(
        started: tuple[subprocess.Popen[str], str]) -> None:
    """`flowyard run` killed outright leaves its run RUNNING with nobody to drive it: a
    follower would wait forever, so it says what happened and how to go on."""
    runner, run_id = started
    store = open_store()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not store.get_run(run_id).driver:
        time.sleep(0.05)
    runner.kill()
    runner.wait(10)
    follow = fy("logs", "-f", run_id, timeout=60)
    assert follow.returncode == 2
    text = " ".join(follow.stderr.split())
    assert f"the process that drove it (pid {runner.pid}) is gone" in text
    assert f"flowyard run --resume {run_id}" in text


def _peak_kib(run_id: str, task: str) -> tuple[int, int]:
    """(bytes printed, peak RSS in KiB) of `flowyard logs RUN TASK`, measured in a child of a
    child so that nothing else is counted."""
    code = ("import resource, subprocess, sys;"
            "p = subprocess.run([sys.executable, '-m', 'flowyard.cli.main', 'logs', sys.argv[1],"
            " sys.argv[2]], stdout=subprocess.PIPE);"
            "assert p.returncode == 0, p.returncode;"
            "print(len(p.stdout), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", code, run_id, task], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    size, peak = (int(v) for v in proc.stdout.split())
    return size, peak


def test_logs_of_a_huge_log_are_streamed(tmp_path: Path) -> None:
    """A 128 MiB log is printed whole, without being read into memory."""
    store = open_store()
    run = store.create_run(display_name="big", spec={}, state="SUCCEEDED")
    small, big = tmp_path / "small.log", tmp_path / "big.log"
    small.write_text("hello\n")
    with big.open("wb") as f:
        for _ in range(128):
            f.write((b"x" * 1023 + b"\n") * 1024)
    for name, log in (("small", small), ("big", big)):
        store.upsert_task(run.id, name, name=name, state="SUCCEEDED", log_path=str(log))
    _, baseline = _peak_kib(run.id, "small")
    size, peak = _peak_kib(run.id, "big")
    assert size == big.stat().st_size
    assert peak - baseline < 32 * 1024, f"{peak - baseline} KiB more for a 128 MiB log"


def test_runs_list_never_cuts_an_id() -> None:
    store = open_store()
    ids = [store.create_run(display_name=f"a-rather-long-pipeline-name-{i} " * 2, spec={},
                            state="SUCCEEDED").id for i in range(3)]
    for columns in ("60", "80", "200"):
        # Not a terminal: aligned plain columns, whole values.
        plain = fy("runs", "list", COLUMNS=columns)
        assert plain.returncode == 0, plain.stderr
        for run_id in ids:
            assert run_id in plain.stdout
        # A terminal (Rich's table): ids whole on one line, other columns fold.
        tty = fy("runs", "list", COLUMNS=columns, FORCE_COLOR="1", TTY_COMPATIBLE="1",
                 TTY_INTERACTIVE="1")
        text = re.sub(r"\x1b\[[0-9;]*m", "", tty.stdout)
        assert "│" in text  # Rich's table, as on a terminal
        for run_id in ids:
            assert run_id in text, text


def test_an_ambiguous_prefix_names_the_runs_it_matches() -> None:
    store = open_store()
    for suffix, name in (("1", "first"), ("2", "second")):
        store.create_run(id=f"fd00000{suffix}-0000-4000-8000-000000000000", display_name=name,
                         spec={}, state="SUCCEEDED")
    store.create_run(id="ab000000-0000-4000-8000-000000000000", display_name="other", spec={},
                     state="FAILED")
    for args in (["runs", "get", "fd"], ["logs", "fd"], ["runs", "cancel", "f"]):
        proc = fy(*args)
        assert proc.returncode == 2
        text = " ".join(proc.stderr.split())
        assert "'fd' is ambiguous" in text or "'f' is ambiguous" in text, proc.stderr
        assert "fd000001-0000-4000-8000-000000000000 first SUCCEEDED" in text
        assert "fd000002-0000-4000-8000-000000000000 second SUCCEEDED" in text
        assert "ab000000" not in text
    assert "no run 'zz'" in fy("runs", "get", "zz").stderr
    got = fy("runs", "get", "a", "--json")  # unique, however short
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["name"] == "other"


def test_every_missing_parameter_is_named(pipelines: Path) -> None:
    proc = fy("run", f"{pipelines}:needs", "--json")
    assert proc.returncode == 2
    text = " ".join(proc.stderr.split())
    assert "missing required pipeline parameters " in text
    for named in ("'alpha' (STRING)", "'beta' (NUMBER_INTEGER)", "'gamma' (NUMBER_DOUBLE)"):
        assert named in text
    assert "delta" not in text
    assert open_store().count_runs() == 0


def test_version() -> None:
    proc = fy("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"flowyard {flowyard.__version__}"
    assert fy("run", "--version").stdout.strip() == f"flowyard {flowyard.__version__}"


def _command_paths(group: object, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, sub in getattr(group, "commands", {}).items():
        yield from _command_paths(sub, (*prefix, name))


def test_every_command_takes_h_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    root = command()  # what the `flowyard` executable runs
    paths = list(_command_paths(root))
    assert ("runs", "list") in paths and ("secrets", "create") in paths and ("up",) in paths
    for path in paths:
        for flag, expected in (("-h", "Usage: flowyard"), ("--version", "flowyard 0.")):
            code = root.main(args=[*path, flag], prog_name="flowyard", standalone_mode=False)
            out = capsys.readouterr().out
            assert code in (0, None), (path, flag, out)
            assert expected in out, (path, flag, out)
    assert fy("logs", "-h").stdout.count("--follow") == 1


def test_progress_lines_when_stdout_is_not_a_terminal(pipelines: Path) -> None:
    proc = fy("run", f"{pipelines}:chatty", "-p", "seconds=1", "-p", "lines=1")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout
    lines = proc.stdout.splitlines()
    stamped = [line for line in lines if re.match(r"^\d\d:\d\d:\d\d  ", line)]
    assert any(line.endswith("warm-up  running") for line in stamped), lines
    assert any(re.search(r"warm-up  succeeded  \S+$", line) for line in stamped), lines
    for n, i in ((1, 0), (2, 1), (3, 2)):
        assert any(f"for-loop-2 / [{i}] {n} / talk  succeeded" in line for line in stamped)
    # Each change once, in the order it happened.
    warm = [line.split("  ", 1)[1] for line in stamped if "  warm-up  " in line]
    assert [w.split("  ")[1] for w in warm][-2:] == ["running", "succeeded"]
    assert len(warm) == len(set(warm))
    assert any(line.startswith("SUCCEEDED in ") for line in lines)


def test_a_second_up_on_the_same_home_is_refused(fy_home: Path) -> None:
    first = Server(fy_home).start()
    try:
        assert first.proc is not None
        port = free_port()
        second = fy("up", "--port", str(port), timeout=60)
        assert second.returncode == 1
        text = " ".join(second.stderr.split())
        assert "already serving" in text and f"pid {first.proc.pid}" in text, second.stderr
        assert first.url in text
        with pytest.raises(OSError):  # it never listened
            import socket

            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        # A server killed outright leaves its lock to the kernel: the next one starts.
        first.kill()
        again = Server(fy_home).start()
        again.stop()
    finally:
        first.stop()


def test_up_refusal_names_a_starting_server(fy_home: Path) -> None:
    """Whoever holds the lock without having said who (yet) is still refused."""
    import fcntl

    fy_home.mkdir(parents=True, exist_ok=True)
    with (fy_home / "server.lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        proc = fy("up", "--port", str(free_port()), timeout=60)
    assert proc.returncode == 1
    assert "another `flowyard up` is starting" in " ".join(proc.stderr.split())


