"""The `flowyard` command line, run as a user runs it (a subprocess): `run ... --json` prints a
JSON result as its last line and exits 0 only when the run SUCCEEDED; `-p` values are read by
the parameter's declared type; `runs list`, `runs get`, `logs` and `runs cancel`."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from kfp import compiler
from typer.testing import CliRunner

from flowyard.cli.main import app
from flowyard.store import open_store

PIPELINES = '''
from kfp import dsl


@dsl.component
def describe(name: str, n: int, ratio: float, flag: bool, items: list, opts: dict) -> str:
    import json

    print("describing", name)
    return json.dumps({"name": name, "n": n, "ratio": ratio, "flag": flag, "items": items,
                       "opts": opts, "types": [type(v).__name__ for v in
                                               (name, n, ratio, flag, items, opts)]})


@dsl.component
def fail(message: str) -> str:
    print("this goes to the log before the failure")
    raise RuntimeError(message)


@dsl.component
def nap(seconds: int) -> str:
    import time

    time.sleep(seconds)
    return "rested"


@dsl.pipeline
def typed(name: str, n: int = 1, ratio: float = 0.5, flag: bool = False,
          items: list = [], opts: dict = {}) -> str:
    return describe(name=name, n=n, ratio=ratio, flag=flag, items=items, opts=opts).output


@dsl.pipeline
def failing(message: str = "kaput"):
    fail(message=message)


@dsl.pipeline
def sleepy(seconds: int = 60):
    nap(seconds=seconds)
'''


@pytest.fixture
def pipelines(tmp_path: Path) -> Path:
    path = tmp_path / "pipelines.py"
    path.write_text(textwrap.dedent(PIPELINES))
    return path


def fy(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "flowyard.cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def cli(*args: str) -> Result:
    """The same commands in-process (quicker) where the subprocess boundary isn't the point."""
    return CliRunner().invoke(app, list(args))


def last_json(proc: subprocess.CompletedProcess[str] | Result) -> Any:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def flat(text: str) -> str:
    return " ".join(text.split())


def test_run_json_parses_parameters_by_declared_type(pipelines: Path) -> None:
    proc = fy("run", f"{pipelines}:typed", "--json", "-p", "name=a b=c", "-p", "n=42",
              "-p", "ratio=2", "-p", "flag=true", "-p", 'items=[1, "x", {"k": null}]',
              "-p", 'opts={"depth": 3, "tags": ["t"]}')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = last_json(proc)
    assert result["state"] == "SUCCEEDED"
    assert result["run_id"]
    got = json.loads(result["outputs"]["Output"])
    assert got == {"name": "a b=c", "n": 42, "ratio": 2.0, "flag": True,
                   "items": [1, "x", {"k": None}], "opts": {"depth": 3, "tags": ["t"]},
                   "types": ["str", "int", "float", "bool", "list", "dict"]}

    listed = json.loads(cli("runs", "list", "--json").stdout)
    assert [r["run_id"] for r in listed] == [result["run_id"]]
    assert listed[0]["state"] == "SUCCEEDED"

    got_run = last_json(cli("runs", "get", result["run_id"][:8], "--json"))
    assert got_run["run_id"] == result["run_id"]
    assert got_run["outputs"] == result["outputs"]
    assert got_run["tasks"] == {"describe": "SUCCEEDED"}

    logs = cli("logs", result["run_id"], "describe")
    assert logs.exit_code == 0
    assert "describing a b=c" in logs.stdout


def test_failed_run_exits_nonzero_with_the_error(pipelines: Path) -> None:
    proc = fy("run", f"{pipelines}:failing", "--json", "-p", "message=disk on fire")
    assert proc.returncode == 1
    result = last_json(proc)
    assert result["state"] == "FAILED"
    assert "RuntimeError: disk on fire" in result["error"]
    assert result["tasks"] == {"fail": "FAILED"}
    logs = cli("logs", result["run_id"])
    assert "this goes to the log before the failure" in logs.stdout
    assert "RuntimeError: disk on fire" in logs.stdout
    # The human view shows the failure as well.
    shown = cli("runs", "get", result["run_id"])
    assert "fail" in shown.stdout and "FAILED" in shown.stdout
    assert "disk on fire" in flat(shown.output)
    table = cli("runs", "list")
    assert result["run_id"][:8] in table.stdout and "FAILED" in table.stdout


def test_bad_parameter_exits_2_before_a_run(pipelines: Path) -> None:
    proc = fy("run", f"{pipelines}:typed", "--json", "-p", "name=x", "-p", "n=many")
    assert proc.returncode == 2
    assert "parameter 'n': expected an integer (NUMBER_INTEGER), got 'many'" in flat(proc.stderr)
    assert proc.stdout.strip() == ""
    assert open_store().count_runs() == 0


@pytest.fixture(scope="module")
def typed_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("compiled")
    source = folder / "pipelines.py"
    source.write_text(textwrap.dedent(PIPELINES))
    spec = importlib.util.spec_from_file_location("cli_test_pipelines", source)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    compiled = folder / "typed.yaml"
    compiler.Compiler().compile(module.typed, str(compiled))
    return compiled


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (["name=x", "n=1.5"], "parameter 'n': expected an integer"),
        (["name=x", "ratio=fast"], "parameter 'ratio': expected a number (NUMBER_DOUBLE)"),
        (["name=x", "items=[1,"], "parameter 'items': expected a JSON list (LIST); '[1,' is not "
                                  "valid JSON"),
        (["name=x", "items={}"], "parameter 'items': expected a JSON list (LIST), got {}"),
        (["name=x", "opts=[1]"], "parameter 'opts': expected a JSON object (STRUCT)"),
        (["name=x", "flag=maybe"], "parameter 'flag': expected true or false"),
        (["name=x", "nope=1"], "unknown pipeline parameter 'nope'"),
        (["name"], "expected NAME=VALUE"),
        ([], "missing required pipeline parameter 'name'"),
    ],
)
def test_bad_parameters_are_refused(typed_yaml: Path, params: list[str], expected: str) -> None:
    result = cli("run", str(typed_yaml), "--json", *[a for p in params for a in ("-p", p)])
    assert result.exit_code == 2
    assert expected in flat(result.stderr)
    assert open_store().count_runs() == 0


@pytest.mark.parametrize(
    ("param", "value"),
    [("name=", ""), ("name=42", "42"), ("name=[1]", "[1]"), ("flag=FALSE", False),
     ("flag=1", True), ("ratio=1e-3", 0.001), ("n=-7", -7), ("items=[]", []),
     ("opts={\"a\": {\"b\": [true]}}", {"a": {"b": [True]}})],
)
def test_parameter_text_by_declared_type(typed_yaml: Path, param: str, value: Any) -> None:
    from flowyard.pipelines.arguments import parse_cli
    from flowyard.pipelines.loader import load_pipeline

    name = param.split("=", 1)[0]
    assert parse_cli(load_pipeline(typed_yaml).spec, [param]) == {name: value}


def test_compiled_yaml_and_no_cache(typed_yaml: Path) -> None:
    proc = fy("run", str(typed_yaml), "--json", "-p", "name=y")
    assert proc.returncode == 0, proc.stderr
    first = last_json(proc)
    cached = last_json(cli("run", str(typed_yaml), "--json", "-p", "name=y"))
    fresh = last_json(cli("run", str(typed_yaml), "--json", "-p", "name=y", "--no-cache"))
    assert [r["state"] for r in (first, cached, fresh)] == ["SUCCEEDED"] * 3
    assert first["tasks"] == {"describe": "SUCCEEDED"}
    assert cached["tasks"] == {"describe": "CACHED"}
    assert fresh["tasks"] == {"describe": "SUCCEEDED"}
    assert first["outputs"] == cached["outputs"] == fresh["outputs"]


def test_python_file_with_several_pipelines_needs_a_function(pipelines: Path) -> None:
    result = cli("run", str(pipelines), "--json")
    assert result.exit_code == 2
    assert "several pipelines" in flat(result.stderr)
    assert "typed, failing, sleepy" in flat(result.stderr)


def test_runs_cancel(pipelines: Path) -> None:
    runner = subprocess.Popen([sys.executable, "-m", "flowyard.cli.main", "run",
                               f"{pipelines}:sleepy", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        store = open_store()
        deadline = time.monotonic() + 60
        run_id = ""
        while time.monotonic() < deadline:
            runs = store.list_runs()
            if runs and any(t.state == "RUNNING" for t in store.tasks(runs[0].id)):
                run_id = runs[0].id
                break
            assert runner.poll() is None, runner.communicate()
            time.sleep(0.1)
        assert run_id, "the run never started its task"
        cancel = cli("runs", "cancel", run_id)
        assert cancel.exit_code == 0, cancel.output
        out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    assert runner.returncode == 1, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["state"] == "CANCELED"
    assert result["tasks"] == {"nap": "CANCELED"}
    again = cli("runs", "cancel", run_id)
    assert again.exit_code == 2 and "already ended" in again.stderr


def test_unknown_run_id() -> None:
    for args in (["runs", "get", "no-such-run"], ["logs", "no-such-run"]):
        result = cli(*args)
        assert result.exit_code == 2
        assert "no run 'no-such-run'" in result.stderr


def test_run_without_json_shows_progress_and_result(typed_yaml: Path) -> None:
    result = cli("run", str(typed_yaml), "-p", "name=plain", "-p", "n=2")
    assert result.exit_code == 0, result.output
    run_id = open_store().list_runs()[0].id
    assert "SUCCEEDED" in result.stdout and run_id in result.stdout
    assert "describe" in result.stdout  # the task tree
    assert '"Output"' in result.stdout and "plain" in result.stdout  # the pipeline outputs


def test_ctrl_c_cancels_the_run(pipelines: Path) -> None:
    import signal

    # Started as a terminal's foreground job is: with SIGINT at its default. A test run started
    # in the background by a shell without job control (`pytest &`, nohup) ignores SIGINT, its
    # children inherit that, and Python then keeps it ignored: the Ctrl-C never arrived and the
    # run went on to SUCCEEDED (the failure seen once). exec() resets a handled signal to its
    # default, so the CLI gets Python's KeyboardInterrupt handler, as at a terminal.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        runner = subprocess.Popen([sys.executable, "-m", "flowyard.cli.main", "run",
                                   f"{pipelines}:sleepy", "--json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, inherited)
    pid = 0
    try:
        store = open_store()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not pid:
            runs = store.list_runs()
            running = [t for t in store.tasks(runs[0].id) if t.state == "RUNNING"] if runs else []
            pid = running[0].pid or 0 if running else 0
            assert runner.poll() is None, runner.communicate()
            time.sleep(0.1)
        assert pid, "the run never started its task"
        runner.send_signal(signal.SIGINT)
        out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    assert runner.returncode == 1, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["state"] == "CANCELED"
    assert result["tasks"] == {"nap": "CANCELED"}
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "the task process survived"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
