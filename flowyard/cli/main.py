"""`flowyard` — run Kubeflow pipelines on this machine."""

from __future__ import annotations

import asyncio
import copy
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flowyard.cli.secrets import configmaps_app, secrets_app, volumes_app

# -h as well as --help, on every command (Click hands it down to each subcommand's context).
app = typer.Typer(help="Kubeflow on one machine.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
runs_app = typer.Typer(help="List and inspect pipeline runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(secrets_app, name="secrets")
app.add_typer(configmaps_app, name="configmaps")
app.add_typer(volumes_app, name="volumes")
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _print_version(value: bool) -> None:
    if value:
        from flowyard import __version__

        print(f"flowyard {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option(
        "--version", help="Print Flowyard's version and exit", is_eager=True,
        callback=_print_version)] = False,
) -> None:
    """Kubeflow on one machine."""


def _store() -> Any:
    from flowyard.store import open_store

    return open_store()


def _find_run(run_id: str) -> Any:
    """A run by its id or a prefix of it; an ambiguous prefix names the runs it matches."""
    shown = 10
    found = _store().runs_matching(run_id, limit=shown + 1)
    if not found:
        raise _fail(f"no run {run_id!r}")
    if len(found) > 1:
        lines = "\n".join(f"  {r.id}  {r.display_name}  {r.state}" for r in found[:shown])
        more = "\n  ... and more" if len(found) > shown else ""
        raise _fail(f"run id prefix {run_id!r} is ambiguous; it matches:\n{lines}{more}\n"
                    "give more of the id")
    return found[0]


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
            from flowyard.cli.progress import progress

            with progress(store, run_id, title, console):
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
    header = ("RUN ID", "NAME", "STATE", "CREATED", "DURATION")
    lines = []
    for r in rows:
        dur = ""
        if r.started_at and r.finished_at:
            dur = f"{(r.finished_at - r.started_at).total_seconds():.1f}s"
        lines.append((r.id, r.display_name, r.state, r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                      dur))
    if not console.is_terminal:
        # For a pipe or a file: whole values in aligned columns, whatever the width.
        widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
        for row in [header, *lines]:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        return
    table = Table(*header)
    # An id is never cut (it is what the other commands take); the other columns fold.
    table.columns[0].no_wrap = True
    table.columns[0].min_width = max((len(r.id) for r in rows), default=6)
    for column in table.columns[1:]:
        column.overflow = "fold"
    for line in lines:
        table.add_row(*(escape(v) for v in line))
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
    follow: Annotated[bool, typer.Option(
        "-f", "--follow", help="Keep printing until the run ends, waiting for tasks")] = False,
) -> None:
    """A task's stdout and stderr (or every task's, each under a header)."""
    from flowyard.cli.logs import LogsError, RunLogs

    row = _find_run(run_id)

    def header(text: str) -> None:
        if console.is_terminal:
            console.rule(text)
        else:
            console.print(f"==> {text} <==", highlight=False, markup=False, soft_wrap=True)
        console.file.flush()

    sys.stdout.flush()
    reader = RunLogs(_store(), row.id, task, sys.stdout.buffer, header)
    try:
        if follow:
            state = reader.follow()
            err.print(f"run {row.id} {state}", highlight=False)
        else:
            reader.show()
    except LogsError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        sys.stdout.flush()


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


def command() -> Any:
    """The command tree with `--version` on every command (`flowyard run --version`), not
    only on `flowyard` itself, as -h is: the root's option, as Typer built it, is shared."""
    root = typer.main.get_command(app)
    version = copy.copy(next(p for p in root.params if "--version" in p.opts))
    version.expose_value = False  # a command's own function has no `version` parameter

    def add(cmd: Any) -> None:
        if not any("--version" in p.opts for p in cmd.params):
            cmd.params.append(version)
        for sub in getattr(cmd, "commands", {}).values():
            add(sub)

    add(root)
    return root


def main() -> None:
    command()(prog_name="flowyard")


if __name__ == "__main__":
    main()
