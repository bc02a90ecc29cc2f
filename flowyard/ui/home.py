"""Home: what is running now, what failed in the last day, the newest runs, quick links."""

from __future__ import annotations

from nicegui import ui

from flowyard.services import views
from flowyard.ui import hash_routes, layout
from flowyard.ui.layout import tid
from flowyard.ui.runs import runs_table, table_rows
from flowyard.ui.state import services


@ui.page("/")
def home_page() -> None:
    # kfp.Client's links (`/#/runs/details/ID`) land here: send them where they point.
    ui.add_head_html(hash_routes.script())
    svc = services()
    with layout.frame("Home", "Home"):
        with ui.row().classes("gap-3"):
            tiles = {key: _tile(label, icon) for key, label, icon in (
                ("total", "Runs", "directions_run"), ("running", "Running now", "autorenew"),
                ("failed", "Failed (24h)", "error"), ("succeeded", "Succeeded", "check_circle"))}
        with ui.row().classes("gap-2"):
            ui.button("Upload a pipeline", icon="upload",
                      on_click=lambda: ui.navigate.to("/pipelines")).props("outline")
            ui.button("All runs", icon="list", on_click=lambda: ui.navigate.to("/runs")).props(
                "outline")
            ui.button("Experiments", icon="science",
                      on_click=lambda: ui.navigate.to("/experiments")).props("outline")
            ui.button("Artifacts", icon="inventory_2",
                      on_click=lambda: ui.navigate.to("/artifacts")).props("outline")
        ui.label("Running now").classes("text-h6")
        running = runs_table([]).props(tid("running-table"))
        ui.label("Failed in the last day").classes("text-h6")
        failed = runs_table([]).props(tid("failed-table"))
        ui.label("Recent runs").classes("text-h6")
        recent = runs_table([]).props(tid("recent-table"))

    def load() -> None:
        s = views.home_summary(svc)
        counts = s["counts"]
        tiles["total"].set_text(str(s["total"]))
        tiles["running"].set_text(str(counts.get("RUNNING", 0) + counts.get("PENDING", 0)))
        tiles["failed"].set_text(str(s["failed_count"]))
        tiles["succeeded"].set_text(str(counts.get("SUCCEEDED", 0)))
        for table, runs in ((running, s["running"]), (failed, s["failed_last_day"]),
                            (recent, s["recent"])):
            rows = table_rows(runs)
            if rows != table.rows:
                table.rows = rows
                table.update()

    load()
    ui.timer(1.5, load)


def _tile(label: str, icon: str) -> ui.label:
    with ui.card().classes("w-44 q-pa-sm"), ui.row().classes("items-center gap-2"):
        ui.icon(icon, size="md").classes("text-primary")
        with ui.column().classes("gap-0"):
            value = ui.label("0").classes("text-h5")
            ui.label(label).classes("text-caption text-grey-7")
    return value
