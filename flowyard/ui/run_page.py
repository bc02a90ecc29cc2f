"""A run: the DAG as a live graph, the task list, a task's details beside them, the run's
parameters, outputs and visualizations; Terminate, Retry and Clone-with-new-parameters."""

from __future__ import annotations

import json
from typing import Any

from nicegui import ui

from flowyard.services import run_metrics, runs, views
from flowyard.services.errors import ApiError
from flowyard.ui import layout
from flowyard.ui.components import viz
from flowyard.ui.components.graph import RunGraph, legend
from flowyard.ui.components.run_form import open_run_dialog
from flowyard.ui.components.task_panel import task_panel
from flowyard.ui.layout import tid
from flowyard.ui.state import services

TASK_COLUMNS = [
    {"name": "name", "label": "Task", "field": "name", "align": "left"},
    {"name": "state", "label": "State", "field": "state", "align": "left"},
    {"name": "duration", "label": "Duration", "field": "duration", "align": "right"},
]
ACTIVE = ("PENDING", "RUNNING", "CANCELING")


def _task_rows(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tasks = views.tree_order(tasks)
    return [{"id": t["id"], "name": ("· " * t["path"].count("/")) + t["name"],
             "state": t["state"], "duration": layout.dur(t["duration"])} for t in tasks]


def clone_run(svc: Any, run: dict[str, Any], params: dict[str, Any], name: str) -> str:
    body: dict[str, Any] = {"display_name": name, "experiment_id": run["experiment_id"] or "",
                            "runtime_config": {"parameters": params}}
    if run["pipeline_version_id"]:
        body["pipeline_version_reference"] = {"pipeline_id": run["pipeline_id"],
                                              "pipeline_version_id": run["pipeline_version_id"]}
    else:
        spec = run["spec"]
        body["pipeline_spec"] = ({"pipeline_spec": spec, "platform_spec": run["platform_spec"]}
                                 if run["platform_spec"] else spec)
    return str(runs.create(svc, body)["run_id"])


@ui.page("/runs/{run_id}")
def run_page(run_id: str, task: str = "") -> None:
    svc = services()
    try:
        detail = views.run_detail(svc, run_id)
    except ApiError as exc:
        with layout.frame("Run", "Runs"):
            ui.label(exc.message).classes("text-negative")
        return
    run = detail["run"]
    selected: dict[str, Any] = {"id": task, "state": None}
    last: dict[str, Any] = {"sig": None}  # what the page last showed; redraw only on change
    with layout.frame(run["name"], "Runs"):
        with ui.row().classes("items-center gap-3 w-full"):
            ui.label(run["name"]).classes("text-h5").props(tid("run-name"))
            with ui.element("span").props(tid("run-state")) as badge_box:
                layout.state_badge(run["state"])
            ui.space()
            term = ui.button("Terminate", icon="stop", color="negative",
                             on_click=lambda: act(runs.terminate, "Termination requested"))
            retry = ui.button("Retry", icon="replay",
                              on_click=lambda: act(runs.retry, "Retrying the run"))
            ui.button("Clone", icon="content_copy", on_click=lambda: clone()).props(
                "outline").props(tid("clone"))
        info = ui.label().classes("text-body2 text-grey-8").props(tid("run-info"))
        error = ui.label().classes("text-negative text-body2")
        with ui.tabs().props("dense align=left").classes("w-full") as tabs:
            ui.tab("graph", "Graph")
            ui.tab("details", "Parameters & outputs")
            ui.tab("viz", "Visualizations").props(tid("tab-viz"))
        with ui.tab_panels(tabs, value="graph").classes("w-full"):
            with ui.tab_panel("graph").classes("q-pa-none"):
                legend()
                with ui.row().classes("w-full no-wrap gap-3 items-start"):
                    with ui.column().classes("w-7/12 gap-2"):
                        with ui.card().classes("w-full overflow-auto"):
                            graph = RunGraph(on_task=lambda tid: open_task(tid))
                        table = ui.table(columns=TASK_COLUMNS, rows=[], row_key="id").props(
                            "dense flat bordered").classes("w-full").props(tid("task-table"))
                        table.add_slot("body-cell-state", layout.STATE_SLOT)
                        table.on("rowClick", lambda e: open_task(e.args[1]["id"]))
                    panel = ui.card().classes("w-5/12").props(tid("task-panel"))
                    with panel:
                        ui.label("Click a task in the graph or the list.").classes("text-grey-6")
            with ui.tab_panel("details"):
                details_box = ui.column().classes("w-full")
            with ui.tab_panel("viz"):
                viz_box = ui.column().classes("w-full gap-3")

    def render_header(d: dict[str, Any]) -> None:
        r = d["run"]
        badge_box.clear()
        with badge_box:
            layout.state_badge(r["state"])
        info.set_text(f"pipeline {r['pipeline']} · experiment {r['experiment']} · created "
                      f"{layout.when(r['created_at'])} · duration {layout.dur(r['duration'])}"
                      f" · id {r['id']}")
        error.set_text(r["error"] or "")
        term.set_visibility(r["state"] in ACTIVE)
        retry.set_visibility(r["state"] in ("FAILED", "CANCELED"))

    def render_details(d: dict[str, Any]) -> None:
        details_box.clear()
        with details_box:
            ui.label("Parameters").classes("text-subtitle1")
            ui.code(json.dumps(d["run"]["arguments"], indent=2, default=str),
                    language="json").classes("w-full")
            ui.label("Outputs").classes("text-subtitle1")
            ui.code(json.dumps(d["run"]["outputs"], indent=2, default=str),
                    language="json").classes("w-full")

    def render_viz(d: dict[str, Any]) -> None:
        viz_box.clear()
        with viz_box:
            shown = 0
            for task, art in views.artifacts_in_order(d):
                if viz.is_visualization(art):
                    with ui.card().classes("w-full").props(tid("viz-card")):
                        ui.label(f"{run_metrics.task_label(task['name'], task['path'])} · "
                                 f"{art['name']}").classes("text-caption text-grey-7").props(
                            tid("viz-source"))
                        viz.artifact_view(art)
                    shown += 1
            if not shown:
                ui.label("No visualizations yet.").classes("text-grey-6")

    def open_task(task_id: str) -> None:
        selected["id"] = task_id
        graph.select(task_id)
        state = next((t["state"] for t in detail["tasks"] if t["id"] == task_id), None)
        selected["state"] = state
        panel.clear()
        with panel:
            task_panel(svc, task_id, detail["artifacts"].get(task_id, []))

    def refresh(force: bool = False) -> None:
        nonlocal detail
        state, task_states = views.run_states(svc, run_id)
        sig = (state, sorted(task_states))
        if not force and sig == last["sig"]:
            if detail["run"]["state"] in ACTIVE:
                render_header(detail)  # durations keep counting
            return
        last["sig"] = sig
        detail = views.run_detail(svc, run_id)
        render_header(detail)
        graph.show(detail["run"]["spec"], detail["tasks"])
        rows = _task_rows(detail["tasks"])
        if rows != table.rows:
            table.rows = rows
            table.update()
        render_details(detail)
        render_viz(detail)
        if selected["id"]:
            now_state = next((t["state"] for t in detail["tasks"] if t["id"] == selected["id"]),
                             None)
            if now_state != selected["state"]:
                open_task(selected["id"])

    def act(fn: Any, message: str) -> None:
        try:
            fn(svc, run_id)
        except ApiError as exc:
            ui.notify(exc.message, type="negative")
            return
        ui.notify(message)
        refresh(force=True)

    def clone() -> None:
        open_run_dialog(run["spec"], lambda p, n, e: clone_run(svc, detail["run"], p, n),
                        values=run["arguments"], title=f"Clone {run['name']}",
                        run_name=f"Clone of {run['name']}")

    refresh(force=True)
    if task:
        open_task(task)
    ui.timer(1.0, refresh)
