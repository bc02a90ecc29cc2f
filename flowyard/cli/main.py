"""`flowyard` — run Kubeflow pipelines on this machine."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from flowyard.cli.secrets import configmaps_app, secrets_app, volumes_app

app = typer.Typer(help="Kubeflow on one machine.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
runs_app = typer.Typer(help="List and inspect pipeline runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(secrets_app, name="secrets")
app.add_typer(configmaps_app, name="configmaps")
app.add_typer(volumes_app, name="volumes")
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def _store() -> Any:
    from flowyard.store import open_store

    return open_store()


def _find_run(run_id: str) -> Any:
    row = _store().find_run(run_id)
    if row is None:
        raise _fail(f"no run {run_id!r}")
    return row


def _result_json(run_id: str) -> str:
    from flowyard.pipelines.runner import Run

    run = Run.load(run_id)
    return json.dumps({
        "run_id": run.id, "name": run.name, "state": run.state, "outputs": run.outputs,
        "error": run.error,
        "tasks": {t.path: t.state for t in run.tasks},
    }, default=str)


@app.command()
def run(
    pipeline: Annotated[str, typer.Argument(
        help="Compiled pipeline (.yaml/.json) or file.py[:function] with a @dsl.pipeline")] = "",
    param: Annotated[list[str], typer.Option(
        "-p", "--param", help="NAME=VALUE, read by the parameter's declared type")] = [],  # noqa: B006
    experiment: Annotated[str, typer.Option(help="Experiment to file the run under")] = "Default",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Execute every task")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON result line")] = False,
    resume: Annotated[str, typer.Option(
        help="Finish an interrupted run, or retry a failed or canceled one, without "
             "re-executing finished tasks")] = "",
    name: Annotated[str, typer.Option(help="Run name")] = "",
) -> None:
    """Run a pipeline to completion on this machine."""
    from flowyard.pipelines import arguments
    from flowyard.pipelines.errors import PipelineError
    from flowyard.pipelines.loader import load_pipeline
    from flowyard.pipelines.runner import check_not_driven, drive, reopen, submit

    store = _store()
    try:
        if resume:
            row = _find_run(resume)
            if row.state in ("FAILED", "CANCELED"):
                reopen(row.id, store)  # a retry: only what did not finish runs again
            elif row.state in ("SUCCEEDED", "SKIPPED"):
                raise PipelineError(f"run {row.id} already {row.state}; nothing to resume")
            else:
                check_not_driven(row)
            run_id, title, is_resume = row.id, row.display_name, True
        else:
            if not pipeline:
                raise PipelineError("give a PIPELINE to run, or --resume RUN_ID")
            doc = load_pipeline(pipeline)
            args = arguments.parse_cli(doc.spec, param)
            run_id = submit(doc, args, experiment=experiment, enable_caching=not no_cache,
                            run_name=name or None, store=store)
            title, is_resume = f"{doc.name}  run {run_id}", False
    except PipelineError as exc:
        raise _fail(str(exc)) from None
    from flowyard.executors import get_executor

    get_executor("local").warm_up()  # type: ignore[attr-defined]
    started = time.perf_counter()
    try:
        if as_json:
            state = asyncio.run(drive(run_id, resume=is_resume, store=store))
        else:
            from flowyard.cli.progress import LiveProgress

            with LiveProgress(store, run_id, title, console):
                state = asyncio.run(drive(run_id, resume=is_resume, store=store))
    except KeyboardInterrupt:
        # drive() has already recorded the run as CANCELED and stopped its tasks.
        state = "CANCELED"
    if as_json:
        print(_result_json(run_id))
    else:
        row = store.get_run(run_id)
        console.print()
        colour = "green" if state == "SUCCEEDED" else "red"
        console.print(f"[{colour}]{state}[/{colour}] in {time.perf_counter() - started:.2f}s  "
                      f"run {run_id}")
        if row.outputs:
            console.print_json(json.dumps(row.outputs, default=str))
        if row.error:
            err.print(f"[red]{row.error}[/red]", highlight=False)
    raise typer.Exit(0 if state == "SUCCEEDED" else 1)


@runs_app.command("list")
def runs_list(
    limit: Annotated[int, typer.Option(help="How many runs, newest first")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recent runs."""
    rows = _store().list_runs(limit=limit)
    if as_json:
        print(json.dumps([{"run_id": r.id, "name": r.display_name, "state": r.state,
                           "created_at": r.created_at.isoformat()} for r in rows]))
        return
    table = Table("RUN ID", "NAME", "STATE", "CREATED", "DURATION")
    for r in rows:
        dur = ""
        if r.started_at and r.finished_at:
            dur = f"{(r.finished_at - r.started_at).total_seconds():.1f}s"
        table.add_row(r.id, r.display_name, r.state, r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                      dur)
    console.print(table)


@runs_app.command("get")
def runs_get(run_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One run: its state, outputs and tasks."""
    row = _find_run(run_id)
    if as_json:
        print(_result_json(row.id))
        return
    from flowyard.cli.progress import render

    store = _store()
    console.print(render(f"{row.display_name}  run {row.id}  {row.state}", store.tasks(row.id)))
    if row.outputs:
        console.print_json(json.dumps(row.outputs, default=str))
    if row.error:
        err.print(f"[red]{row.error}[/red]", highlight=False)


@runs_app.command("cancel")
def runs_cancel(run_id: str) -> None:
    """Ask a running run to stop; its running tasks are killed and it ends CANCELED."""
    row = _find_run(run_id)
    if not _store().request_cancel(row.id):
        raise _fail(f"run {row.id} already ended ({row.state})")
    console.print(f"cancel requested for run {row.id}")


@app.command()
def logs(
    run_id: str,
    task: Annotated[str, typer.Argument(help="Task name or path; all tasks if omitted")] = "",
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Stream until it ends")] = False,
) -> None:
    """A task's stdout and stderr (or every task's, one after the other)."""
    store = _store()
    row = _find_run(run_id)
    tasks = [t for t in store.tasks(row.id) if t.log_path]
    if task:
        tasks = [t for t in tasks if task in (t.name, t.path)]
        if not tasks:
            raise _fail(f"run {row.id} has no task {task!r} with logs")
    if follow and task:
        _follow(store, row.id, tasks[0])
        return
    for t in tasks:
        if not task:
            console.rule(f"{t.path} ({t.state.lower()})")
        path = Path(t.log_path)
        if path.exists():
            sys.stdout.write(path.read_text(errors="replace"))
    sys.stdout.flush()


def _follow(store: Any, run_id: str, t: Any) -> None:
    path = Path(t.log_path)
    pos = 0
    while True:
        if path.exists():
            with path.open("rb") as f:
                f.seek(pos)
                chunk = f.read()
                pos += len(chunk)
            sys.stdout.write(chunk.decode(errors="replace"))
            sys.stdout.flush()
        current = store.get_task(t.id)
        ended = current is None or current.state not in ("PENDING", "RUNNING")
        if ended and (not path.exists() or path.stat().st_size == pos):
            return
        time.sleep(0.2)


@app.command()
def demo() -> None:
    """Run the end-to-end demo pipeline (examples/demo_pipeline.py)."""
    here = Path(__file__).resolve().parents[2] / "examples" / "demo_pipeline.py"
    if not here.exists():
        raise _fail(f"{here} not found: run the demo from a clone of the repository")
    run(pipeline=str(here), param=[], experiment="demo", no_cache=False, as_json=False,
        resume="", name="")


# The control plane (issue 4): up, apply, get, describe, delete, wait, logs KIND NAME.
from flowyard.cli.resources import register as _register_control_plane  # noqa: E402

_register_control_plane(app)
from flowyard.cli.kube import register as _register_kube  # noqa: E402  (flowyard kubeconfig)

_register_kube(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
