"""Recurring runs: each schedule with its trigger, next fire time and the runs it started;
enable or disable it in place."""

from __future__ import annotations

from nicegui import ui

from flowyard.services import recurring_view, views
from flowyard.services.errors import ApiError
from flowyard.ui import layout
from flowyard.ui.layout import tid
from flowyard.ui.runs import runs_table, table_rows
from flowyard.ui.state import services


@ui.page("/recurring")
def recurring_page(selected: str = "") -> None:
    svc = services()
    current = {"id": selected}
    with layout.frame("Recurring runs", "Recurring runs"):
        box = ui.column().classes("w-full gap-2").props(tid("recurring-list"))
        ui.label("History").classes("text-h6")
        history_title = ui.label("Pick a schedule to see the runs it started.").classes(
            "text-grey-7")
        history = runs_table([]).props(tid("recurring-history"))

    def toggle(rr_id: str, enabled: bool) -> None:
        try:
            recurring_view.set_enabled(svc, rr_id, enabled)
        except ApiError as exc:
            ui.notify(exc.message, type="negative")
        ui.notify("enabled" if enabled else "disabled")
        draw.refresh()

    def pick(rr_id: str, name: str) -> None:
        current["id"] = rr_id
        history_title.set_text(f"Runs started by {name}")
        load_history()

    @ui.refreshable
    def draw() -> None:
        items = recurring_view.list_recurring(svc)
        if not items:
            ui.label("No recurring runs. Create them with the KFP client or the API.").classes(
                "text-grey-6")
        for r in items:
            with ui.card().classes("w-full q-pa-sm"), ui.row().classes("items-center gap-4 w-full"):
                ui.switch(value=r["enabled"], on_change=lambda e, i=r["id"]: toggle(
                    i, bool(e.value))).props(tid(f"enable-{r['name']}"))
                ui.link(r["name"]).on("click", lambda _, i=r["id"], n=r["name"]: pick(i, n))
                ui.label(r["trigger"]).classes("font-mono text-body2")
                ui.label(f"experiment {r['experiment']}").classes("text-caption")
                ui.label(f"next: {layout.when(r['next_fire']) or '—'}").classes("text-body2")
                ui.label(f"last: {layout.when(r['last_fire']) or '—'}").classes("text-caption")
                ui.label(f"{r['runs']} runs").classes("text-caption")

    def load_history() -> None:
        if not current["id"]:
            return
        res = views.runs_page(svc, views.RunFilter(recurring_run_id=current["id"]), 0, 25)
        rows = table_rows(res["runs"])
        if rows != history.rows:
            history.rows = rows
            history.update()

    with box:
        draw()
    load_history()
    ui.timer(2.0, draw.refresh)
    ui.timer(1.5, load_history)
