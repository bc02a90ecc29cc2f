"""One task, opened from the graph: state and timings, inputs and outputs, the log (live
while it runs), its artifacts with visualizations, events, and cache/retry history."""

from __future__ import annotations

import json
from typing import Any

from nicegui import ui

from flowyard.services import views
from flowyard.services.context import Services
from flowyard.ui import layout
from flowyard.ui.components import viz
from flowyard.ui.components.logs import task_log
from flowyard.ui.layout import tid


def _params_table(values: dict[str, Any], mark: str) -> None:
    if not values:
        ui.label("none").classes("text-grey-6 text-caption")
        return
    rows = [{"name": k, "value": layout.short(json.dumps(v, default=str), 200)}
            for k, v in values.items()]
    ui.table(columns=[{"name": "name", "label": "Name", "field": "name", "align": "left"},
                      {"name": "value", "label": "Value", "field": "value", "align": "left"}],
             rows=rows).props("dense flat bordered wrap-cells").classes("w-full").props(tid(mark))


def _artifact_refs(arts: dict[str, Any]) -> None:
    for name, items in (arts or {}).items():
        for a in items or []:
            with ui.row().classes("items-center gap-2"):
                ui.label(name).classes("font-medium text-body2")
                ui.badge(a.get("type", {}).get("schemaTitle", ""), color="blue-grey-4")
                if a.get("artifactId"):
                    ui.link("open", f"/artifacts/{a['artifactId']}").classes("text-caption")
            ui.label(a.get("uri", "")).classes("text-caption text-grey-7 font-mono")


def task_panel(svc: Services, task_id: str, artifacts: list[dict[str, Any]]) -> None:
    t = views.task_detail(svc, task_id)
    with ui.row().classes("items-center gap-2"):
        ui.label(t["name"]).classes("text-h6").props(tid("task-title"))
        layout.state_badge(t["state"]).props(tid("task-state"))
        ui.label(t["kind"]).classes("text-caption text-grey-7")
    ui.label(f"{t['path']} · {t['component']}").classes("text-caption text-grey-7 font-mono")
    if t["error"]:
        ui.label(t["error"]).classes("text-negative text-body2 whitespace-pre-wrap")
    if t["details"].get("reason"):
        ui.label(f"skipped: {t['details']['reason']}").classes("text-grey-8 text-body2")
    default_tab = "logs" if t["kind"] == "container" else "io"
    if any(viz.is_visualization(a) for a in artifacts):
        default_tab = "artifacts"
    # Four tabs share a panel 5/12 of the page wide: short labels in sentence case, and arrows
    # rather than a label cut to "EVENTS & H…" when the panel is narrower still.
    with ui.tabs().classes("w-full").props(
            "dense no-caps align=left outside-arrows mobile-arrows").props(tid("task-tabs")) as tabs:
        ui.tab("io", "Inputs & outputs")
        ui.tab("logs", "Logs").props(tid("tab-logs"))
        ui.tab("artifacts", f"Artifacts ({len(artifacts)})").props(tid("tab-artifacts"))
        ui.tab("events", "Events").props(tid("tab-events"))
    with ui.tab_panels(tabs, value=default_tab).classes("w-full"):
        with ui.tab_panel("io"):
            ui.label("Input parameters").classes("text-subtitle2")
            _params_table(t["inputs"].get("parameters", {}), "task-inputs")
            if t["inputs"].get("artifacts"):
                ui.label("Input artifacts").classes("text-subtitle2")
                _artifact_refs(t["inputs"]["artifacts"])
            ui.label("Output parameters").classes("text-subtitle2")
            _params_table(t["outputs"].get("parameters", {}), "task-outputs")
        with ui.tab_panel("logs"):
            if t["kind"] in ("container", "importer"):
                task_log(svc, task_id)
            else:
                ui.label("A group has no log of its own; open a task inside it.").classes(
                    "text-grey-6")
        with ui.tab_panel("artifacts"):
            if not artifacts:
                ui.label("No output artifacts.").classes("text-grey-6")
            for art in artifacts:
                with ui.card().classes("w-full"):
                    viz.artifact_view(art)
        with ui.tab_panel("events"):
            _history(t)


def _history(t: dict[str, Any]) -> None:
    rows: list[tuple[str, str]] = []
    if t["started_at"]:
        rows.append(("started", layout.when(t["started_at"])))
    if t["finished_at"]:
        rows.append(("finished", layout.when(t["finished_at"])))
    rows.append(("duration", layout.dur(t["duration"])))
    rows.append(("attempts", str(t["attempts"])))
    rows.append(("cache key", t["cache_key"] or "—"))
    src = t["cache_source"]
    if src:
        rows.append(("cached from", f"{src['path']} of run {src['run_id'][:8]}"))
    for k, v in rows:
        with ui.row().classes("gap-2"):
            ui.label(k).classes("w-28 text-grey-7 text-body2")
            ui.label(v).classes("text-body2 font-mono")
    if src:
        ui.link("open the run the result came from", f"/runs/{src['run_id']}")
    ui.label("Events").classes("text-subtitle2 q-mt-sm")
    if not t["events"]:
        ui.label("none").classes("text-grey-6 text-caption")
    for e in t["events"]:
        color = "text-negative" if e["type"] == "Warning" else ""
        ui.label(f"{layout.when(e['at'])}  {e['reason']}: {e['message']}").classes(
            f"text-body2 {color}")
