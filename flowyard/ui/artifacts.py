"""Artifacts: browse by type and run, and one artifact's page with its preview or
visualization, download, and lineage (producer task, consumer tasks)."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from flowyard.services import artifacts_view
from flowyard.services.errors import ApiError
from flowyard.ui import layout
from flowyard.ui.components import viz
from flowyard.ui.downloads import download_url
from flowyard.ui.layout import tid
from flowyard.ui.state import services

COLUMNS = [
    {"name": "name", "label": "Artifact", "field": "name", "align": "left"},
    {"name": "type", "label": "Type", "field": "type", "align": "left"},
    {"name": "run", "label": "Run", "field": "run", "align": "left"},
    {"name": "task", "label": "Produced by", "field": "task", "align": "left"},
    {"name": "iteration", "label": "Iteration", "field": "iteration", "align": "right"},
    {"name": "created", "label": "Created", "field": "created", "align": "left"},
    {"name": "uri", "label": "URI", "field": "uri", "align": "left"},
]


@ui.page("/artifacts")
def artifacts_page(run: str = "", type: str = "") -> None:
    svc = services()
    page = {"n": 0, "size": 25}
    with layout.frame("Artifacts", "Artifacts"):
        with ui.row().classes("items-end gap-3"):
            search = ui.input("Search by name").props("dense clearable")
            kinds = ui.select({"": "all types", **{t: t for t in artifacts_view.artifact_types(
                svc)}}, value=type, label="Type").props("dense").classes("w-64")
            run_in = ui.input("Run id", value=run).props("dense clearable").classes("w-80")
        table = ui.table(columns=COLUMNS, rows=[], row_key="id").props(
            "dense flat bordered").classes("w-full").props(tid("artifacts-table"))
        table.add_slot("body-cell-name", layout.LINK_SLOT)
        with ui.row().classes("items-center gap-2"):
            prev_btn = ui.button(icon="chevron_left", on_click=lambda: go(-1)).props("flat dense")
            info = ui.label()
            next_btn = ui.button(icon="chevron_right", on_click=lambda: go(1)).props("flat dense")

    def load() -> None:
        res = artifacts_view.artifacts_page(svc, schema_title=kinds.value or None,
                                            run_id=(run_in.value or "").strip() or None,
                                            search=search.value or None, page=page["n"],
                                            size=page["size"])
        rows = [{"id": a["id"], "name": a["name"], "href": f"/artifacts/{a['id']}",
                 "type": a["type"], "run": a["run_name"], "task": a["producer"],
                 "iteration": ",".join(map(str, a["iteration"])),
                 "created": layout.when(a["created_at"]),
                 "uri": layout.short(a["uri"], 48)} for a in res["artifacts"]]
        layout.show_page(table, rows, res["total"], page, info, prev_btn, next_btn)

    def go(delta: int) -> None:
        page["n"] = max(0, page["n"] + delta)
        load()

    def refilter() -> None:
        page["n"] = 0
        load()

    kinds.on_value_change(refilter)
    search.on("update:model-value", refilter, throttle=0.4)
    run_in.on("update:model-value", refilter, throttle=0.4)
    load()
    ui.timer(2.0, load)


def _task_link(t: dict[str, Any]) -> None:
    with ui.row().classes("items-center gap-2"):
        ui.link(t["path"], f"/runs/{t['run_id']}?task={t['task_id']}").props(tid("lineage-task"))
        layout.state_badge(t["state"])
        ui.label(f"in run {t['run_name']}").classes("text-caption text-grey-7")
        if t.get("inputs"):
            ui.label("as " + ", ".join(t["inputs"])).classes("text-caption text-grey-7")


@ui.page("/artifacts/{artifact_id}")
def artifact_page(artifact_id: str) -> None:
    svc = services()
    try:
        lin = artifacts_view.lineage(svc, artifact_id)
    except ApiError as exc:
        with layout.frame("Artifact", "Artifacts"):
            ui.label(exc.message).classes("text-negative")
        return
    art = lin["artifact"]
    with layout.frame(art["name"], "Artifacts"):
        with ui.row().classes("items-center gap-3"):
            ui.button("Download", icon="download",
                      on_click=lambda: ui.download.from_url(download_url(art["id"]))).props(
                'data-testid="download"')
            if art["run_id"]:
                ui.link("open its run", f"/runs/{art['run_id']}")
        with ui.card().classes("w-full"):
            ui.label("Lineage").classes("text-h6")
            ui.label("Produced by").classes("text-subtitle2")
            if lin["producer"]:
                _task_link(lin["producer"])
            else:
                ui.label("no recorded task (imported)").classes("text-grey-6")
            ui.label(f"Consumed by ({len(lin['consumers'])})").classes("text-subtitle2")
            if not lin["consumers"]:
                ui.label("no task has read it yet").classes("text-grey-6")
            for c in lin["consumers"]:
                _task_link(c)
        with ui.card().classes("w-full").props(tid("artifact-preview")):
            viz.artifact_view(art)
