#!/usr/bin/env python3
"""Run every compiled KFP pipeline of the reference set through Flowyard and through kfp.local.

Each pipeline runs in its own subprocess with a fresh FLOWYARD_HOME (or, for kfp.local, a fresh
pipeline root and a throwaway virtual environment layered on this one, so that the `pip install
kfp==X` line inside each component cannot change the installed kfp). The results table goes to
docs/kfp-conformance.md and both counts are printed side by side.
    python scripts/conformance.py [--jobs 2] [--timeout 300] [--only SUBSTRING] [--no-kfp-local]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ERROR_LINE = r"^(\w+\.)*\w*(Error|Exception)\b(:|$)"  # what a traceback ends with
REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO.parent / "shared" / "reference" / "kfp" / "test_pipelines"
FOLDERS = ("critical", "essential", "local_execution", "parallel_and_nested")

# Root inputs that have no default; "{tmp}" is the pipeline's own scratch folder.
ARGUMENTS: dict[str, dict[str, object]] = {
    "critical/add_numbers.yaml": {"a": 1, "b": 2},
    "essential/concat_message.yaml": {"message1": "Hello ", "message2": "world"},
    "essential/dict_input.yaml": {"struct": {"a": 1, "b": "two"}},
    "essential/lightweight_python_functions_pipeline.yaml": {"message": "hello"},
    "essential/lightweight_python_functions_with_outputs.yaml": {
        "first_message": "first", "second_message": "second", "first_number": 1, "second_number": 2},
    "local_execution/local_execution_pipeline_with_ignore_upstream_failure.yaml": {
        "marker_path": "{tmp}/marker.txt"},
    "local_execution/local_execution_pipeline_with_retry.yaml": {"counter_path": "{tmp}/counter.txt"},
}
# Kubernetes secrets the pipelines read (as a KFP test cluster provides them).
SECRETS = {"test-secret-1": "username=user1", "test-secret-2": "password=psw1",
           "test-secret-3": "password=psw2"}
# Pipelines that Kubeflow itself ends FAILED: a task raises on purpose.
EXPECTED = {"local_execution/local_execution_pipeline_with_ignore_upstream_failure.yaml": "FAILED"}
# Files a pipeline must leave in its scratch folder, whatever its state (cleanup that must run).
MARKERS = {"local_execution/local_execution_pipeline_with_ignore_upstream_failure.yaml": "marker.txt"}
# What a pipeline needs from outside the engine (from the survey of the set), shown next to failures.
NEEDS = {
    "critical/modelcar.yaml": "an OCI modelcar image at oci://registry.domain.local/...",
    "critical/notebook_component_simple.yaml": "pip nbclient/ipykernel/jupyter_client",
    "critical/pipeline_with_artifact_upload_download.yaml": "pip datasets + Hugging Face download",
    "critical/pipeline_with_submit_request.yaml": "pip requests",
    "critical/parameters_simple.yaml": "`jq` on PATH",
    "essential/component_with_pip_index_urls.yaml": "pip yapf from pypi.org",
    "essential/component_with_pip_install.yaml": "pip yapf from pypi.org",
    "essential/component_with_pip_install_in_venv.yaml": "pip yapf from pypi.org, python3 -m venv",
    "essential/iris_pipeline_compiled.yaml": "pip pandas==2.2.0, scikit-learn==1.4.0",
    "essential/pipeline_with_nested_conditions_yaml.yaml": "`python` (not python3) on PATH",
}


@dataclass
class Outcome:
    state: str = "NOT RUN"
    error: str = ""
    seconds: float = 0.0


@dataclass
class Row:
    rel: str
    expected: str
    flowyard: Outcome = field(default_factory=Outcome)
    kfp_local: Outcome = field(default_factory=Outcome)


def run_command(
    cmd: list[str], env: dict[str, str], cwd: Path, timeout: float
) -> tuple[int | None, str, str]:
    """Run cmd in its own process group; on timeout kill the whole group and return rc None."""
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out, err


def last_json(stdout: str) -> dict[str, object] | None:
    """The JSON object on the last line that holds one (colour codes may precede it)."""
    for line in reversed(ANSI.sub("", stdout).strip().splitlines()):
        if "{" in line:
            try:
                return json.loads(line[line.index("{"):])
            except ValueError:
                continue
    return None


def last_line(text: str, pattern: str = "") -> str:
    """The last non-empty line (matching `pattern` if given), without terminal colours."""
    lines = [ln.strip() for ln in ANSI.sub("", text).splitlines() if ln.strip()]
    lines = [ln for ln in lines if re.search(pattern, ln)] if pattern else lines
    return lines[-1] if lines else ""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("FLOWYARD_DATABASE_URL", "FLOWYARD_ARTIFACT_ROOT", "VIRTUAL_ENV")}
    env.update(extra, PYTHONUNBUFFERED="1")
    return env


def arguments_for(rel: str, tmp: Path) -> dict[str, object]:
    return {k: v.replace("{tmp}", str(tmp)) if isinstance(v, str) else v
            for k, v in ARGUMENTS.get(rel, {}).items()}


def flowyard_cmd() -> list[str]:
    exe = shutil.which("flowyard")
    return [exe] if exe else [sys.executable, "-m", "flowyard.cli.main"]


def run_flowyard(path: Path, rel: str, timeout: float) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="fy-conf-") as tmp_name:
        tmp = Path(tmp_name)
        env = clean_env(FLOWYARD_HOME=str(tmp / "home"))
        if "test-secret" in path.read_text():
            for name, literal in SECRETS.items():
                run_command([*flowyard_cmd(), "secrets", "create", name, "--from-literal", literal],
                            env, tmp, 60)
        cmd = [*flowyard_cmd(), "run", str(path), "--json"]
        for key, value in arguments_for(rel, tmp).items():
            cmd += ["-p", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
        return timed(cmd, env, tmp, timeout, rel)


def kfp_local_child(path: str, args_json: str, root: str) -> None:
    """Inside the throwaway venv: run one compiled pipeline with kfp.local, print one JSON line."""
    from kfp import components, local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root)
    try:
        # A loaded pipeline YAML is a component whose call runs the whole DAG locally.
        components.load_component_from_file(path)(**json.loads(args_json))
        print(json.dumps({"state": "SUCCEEDED"}))
    except Exception as exc:
        message = last_line(str(exc)) or "(no message)"
        print(json.dumps({"state": "FAILED", "error": f"{type(exc).__name__}: {message}"}))


def run_kfp_local(path: Path, rel: str, timeout: float) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="kl-conf-") as tmp_name:
        tmp = Path(tmp_name)
        venv = tmp / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                        str(venv)], check=True)
        env = clean_env(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", VIRTUAL_ENV=str(venv))
        cmd = [str(venv / "bin" / "python"), str(Path(__file__).resolve()), "--kfp-local-child",
               str(path), json.dumps(arguments_for(rel, tmp)), str(tmp / "root")]
        return timed(cmd, env, tmp, timeout, rel)


def timed(cmd: list[str], env: dict[str, str], tmp: Path, timeout: float, rel: str) -> Outcome:
    """Run one pipeline command and read its outcome from the JSON line it prints last."""
    start = time.perf_counter()
    rc, out, err = run_command(cmd, env, tmp, timeout)
    seconds = time.perf_counter() - start
    if rc is None:
        return Outcome("TIMEOUT", f"no result within {timeout:.0f}s", seconds)
    result = last_json(out)
    cause = (last_line(err, ERROR_LINE) or last_line(out, ERROR_LINE) or last_line(err)
             or last_line(out.rsplit("\n{", 1)[0]))
    if result is None:  # `flowyard run` refused the pipeline (exit status 2), or a crash
        return Outcome("REFUSED" if rc == 2 else "CRASHED", f"exit {rc}: {cause}", seconds)
    error = str(result.get("error") or "")
    if "finished with status" in error:  # kfp.local only says that a task failed; say how
        error = f"a task failed: {cause}"
    got = Outcome(str(result.get("state")), error, seconds)
    marker = MARKERS.get(rel)
    if marker and not (tmp / marker).exists():
        got.state, got.error = f"{got.state} (no {marker})", f"{marker} was not written; {got.error}"
    return got


def cell(text: str, limit: int = 220) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def flowyard_source() -> str:
    """Which Flowyard was run: its folder, and its git commit (+ local changes) when it has one."""
    probe = subprocess.run([sys.executable, "-c", "import flowyard; print(flowyard.__file__)"],
                           capture_output=True, text=True, env=clean_env())
    folder = Path(probe.stdout.strip() or REPO / "flowyard").parent.parent
    git = ["git", "-C", str(folder)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if commit.returncode:
        return f"`{folder}`"
    dirty = subprocess.run([*git, "status", "--porcelain", "flowyard"], capture_output=True, text=True)
    return f"commit {commit.stdout.strip()}{' + uncommitted changes' if dirty.stdout.strip() else ''}"


def write_report(rows: list[Row], out: Path, totals: str, argv: list[str]) -> None:
    import kfp

    lines = [
        "# KFP conformance: the reference pipelines on Flowyard and on kfp.local", "",
        "Generated by `scripts/conformance.py`; do not edit by hand.", "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; kfp {kfp.__version__}; "
        f"{os.cpu_count()} CPU cores; pipelines from `../shared/reference/kfp/test_pipelines/`.",
        f"- Flowyard {flowyard_source()}: `flowyard run FILE --json -p ...`, a fresh `FLOWYARD_HOME` "
        "each; secrets "
        f"{', '.join(SECRETS)} created first where a pipeline reads them.",
        "- kfp.local: `SubprocessRunner(use_venv=False)` calling the loaded pipeline YAML, inside a "
        "throwaway venv layered on this environment (so the components' `pip install kfp==X` stays there).",
        "- Expected: what Kubeflow gives the pipeline (SUCCEEDED unless it is designed to fail).", "",
        "## Totals", "", totals, "",
        "## Pipelines", "",
        "| Pipeline | Expected | Flowyard | s | kfp.local | s | Cause of failure / needs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        notes = []
        if r.flowyard.state != r.expected and r.flowyard.error:
            notes.append(f"Flowyard: {r.flowyard.error}")
        if r.kfp_local.state not in (r.expected, "NOT RUN") and r.kfp_local.error:
            notes.append(f"kfp.local: {cell(r.kfp_local.error, 140)}")
        if r.rel in NEEDS and (r.flowyard.state != r.expected or r.kfp_local.state != r.expected):
            notes.append(f"needs {NEEDS[r.rel]}")
        mark = "" if r.flowyard.state == r.expected else " ✗"
        lines.append(f"| `{r.rel}` | {r.expected} | {r.flowyard.state}{mark} | {r.flowyard.seconds:.1f} | "
                     f"{r.kfp_local.state} | {r.kfp_local.seconds:.1f} | {cell('; '.join(notes), 400)} |")
    lines += ["", "## Regenerate", "", "```sh", "python scripts/conformance.py --jobs 2",
              "# one folder or file: --only critical/  |  Flowyard only: --no-kfp-local", "```", "",
              f"This report: `python scripts/conformance.py {' '.join(argv)}`".rstrip(), ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))


def run_one(attr: str, runner: Callable[[Path, str, float], Outcome], timeout: float,
            path: Path, row: Row) -> None:
    got = runner(path, row.rel, timeout)
    setattr(row, attr, got)
    flag = "ok " if got.state == row.expected else "BAD"
    print(f"[{attr:9}] {flag} {row.rel:75} {got.state:10} {got.seconds:6.1f}s {got.error[:90]}", flush=True)


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--kfp-local-child":
        kfp_local_child(*sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="folder of the test pipelines")
    parser.add_argument("--jobs", type=int, default=2, help="pipelines run at once")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per pipeline run")
    parser.add_argument("--only", default="", help="run only paths containing this substring")
    parser.add_argument("--no-kfp-local", action="store_true", help="skip the kfp.local pass")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "kfp-conformance.md")
    opts = parser.parse_args()

    files = sorted(p for folder in FOLDERS for p in (opts.root / folder).glob("*.y*ml"))
    files = [p for p in files if opts.only in p.relative_to(opts.root).as_posix()]
    if not files:
        parser.error(f"no pipelines under {opts.root} matching {opts.only!r}")
    rels = [p.relative_to(opts.root).as_posix() for p in files]
    rows = [Row(rel, EXPECTED.get(rel, "SUCCEEDED")) for rel in rels]
    passes = [("flowyard", run_flowyard)] + ([] if opts.no_kfp_local else [("kfp_local", run_kfp_local)])
    for attr, runner in passes:  # one pass after the other: some pipelines write fixed /tmp paths
        with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
            list(pool.map(partial(run_one, attr, runner, opts.timeout), files, rows))
    n = len(rows)
    fy_ok, kl_ok = (sum(getattr(r, a).state == "SUCCEEDED" for r in rows) for a in ("flowyard", "kfp_local"))
    fy_exp, kl_exp = (sum(getattr(r, a).state == r.expected for r in rows) for a in ("flowyard", "kfp_local"))
    totals = "\n".join([
        "| | Flowyard | kfp.local |", "|---|---|---|",
        f"| SUCCEEDED | {fy_ok}/{n} | {kl_ok}/{n}{' (not run)' if opts.no_kfp_local else ''} |",
        f"| Outcome as expected | {fy_exp}/{n} | {kl_exp}/{n} |",
        f"| Wall time, sum of runs (s) | {sum(r.flowyard.seconds for r in rows):.0f} | "
        f"{sum(r.kfp_local.seconds for r in rows):.0f} |",
    ])
    print("\n" + totals)
    write_report(rows, opts.output, totals, sys.argv[1:])
    print(f"\nwrote {opts.output}")
    return 0 if fy_exp == n else 1


if __name__ == "__main__":
    sys.exit(main())
