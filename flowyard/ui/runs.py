"""Runs: every run, newest first, filtered by experiment, state, pipeline and date, paged on
the server so 10,000 runs cost one page. Select two or more to compare them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nicegui import ui

from flowyard.services import views
from flowyard.ui import layout
from flowyard.ui.layout import tid
from flowyard.ui.state import services

COLUMNS = [
    {"name": "name", "label": "Run", "field": "name", "align": "left"},
    {"name": "state", "label": "State", "field": "state", "align": "left"},
    {"name": "pipeline", "label": "Pipeline", "field": "pipeline", "align": "left"},
    {"name": "experiment", "label": "Experiment", "field": "experiment", "align": "left"},
    {"name": "created", "label": "Created", "field": "created", "align": "left"},
    {"name": "duration", "label": "Duration", "field": "duration", "align": "right"},
]
PERIODS = {"any time": None, "last hour": timedelta(hours=1), "last day": timedelta(days=1),
           "last week": timedelta(days=7), "last 30 days": timedelta(days=30)}


def table_rows(runs: list[dict[str, Any]], metrics: list[str] | None = None
               ) -> list[dict[str, Any]]:
    return [{"id": r["id"], "name": r["name"], "href": f"/runs/{r['id']}", "state": r["state"],
             "pipeline": r["pipeline"], "experiment": r["experiment"],
             "created": layout.when(r["created_at"]), "duration": layout.dur(r["duration"]),
             **metric_cells(r.get("metrics", {}), metrics or [])}
            for r in runs]


def metric_cells(values: dict[str, float], labels: list[str]) -> dict[str, str]:
    """A row's metric cells, keyed `metric:LABEL` so they never clash with the list's fields."""
    return {f"metric:{label}": _fmt(values.get(label)) for label in labels}


def metric_columns(labels: list[str]) -> list[dict[str, Any]]:
    return [{"name": f"metric:{label}", "label": label, "field": f"metric:{label}",
             "align": "right", "classes": "fy-metric"} for label in labels]


def set_columns(table: ui.table, columns: list[dict[str, Any]]) -> None:
    if columns != table.columns:
        table.columns = columns
        table.update()


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def runs_table(rows: list[dict[str, Any]], selectable: bool = False) -> ui.table:
    table = ui.table(columns=COLUMNS, rows=rows, row_key="id",
                     selection="multiple" if selectable else None).classes("w-full")
    table.props("dense flat bordered")
    table.add_slot("body-cell-state", layout.STATE_SLOT)
    table.add_slot("body-cell-name", layout.LINK_SLOT)
    return table


@ui.page("/runs")
def runs_page(experiment: str = "", state: str = "", pipeline: str = "") -> None:
    svc = services()
    opts = views.filter_options(svc)
    flt = views.RunFilter(experiment_id=experiment or None, state=state or None,
                          pipeline=pipeline or None)
    page = {"n": 0, "size": 25, "total": 0}
    with layout.frame("Runs", "Runs"):
        with ui.row().classes("items-end gap-3 w-full"):
            search = ui.input("Search by name").props("dense clearable").classes("w-48")
            exp = ui.select({"": "all experiments", **opts["experiments"]}, value=experiment,
                            label="Experiment").props("dense").classes("w-48")
            st = ui.select({"": "all states", **{s: s.lower() for s in opts["states"]}},
                           value=state, label="State").props("dense").classes("w-36")
            pipe = ui.select({"": "all pipelines", **{p: p for p in opts["pipelines"]}},
                             value=pipeline, label="Pipeline").props("dense").classes("w-48")
            period = ui.select(list(PERIODS), value="any time", label="Created").props(
                "dense").classes("w-36")
            ui.space()
            compare_btn = ui.button("Compare selected", icon="compare_arrows").props(
                "outline").props(tid("compare"))
        table = runs_table([], selectable=True).props(tid("runs-table"))
        with ui.row().classes("items-center gap-2"):
            prev_btn = ui.button(icon="chevron_left", on_click=lambda: go(-1)).props("flat dense")
            info = ui.label().props(tid("page-info"))
            next_btn = ui.button(icon="chevron_right", on_click=lambda: go(1)).props("flat dense")

    def load() -> None:
        span = PERIODS[period.value]
        flt.experiment_id, flt.state = exp.value or None, st.value or None
        flt.pipeline, flt.search = pipe.value or None, search.value or None
        flt.since = datetime.now(UTC) - span if span else None
        result = views.runs_page(svc, flt, page["n"], page["size"])
        page["total"] = result["total"]
        # Kubeflow's runs list shows the runs' metrics as columns: those of this page's runs.
        set_columns(table, COLUMNS + metric_columns(result["metric_columns"]))
        rows = table_rows(result["runs"], result["metric_columns"])
        layout.show_page(table, rows, result["total"], page, info, prev_btn, next_btn)

    def go(delta: int) -> None:
        page["n"] = max(0, page["n"] + delta)
        load()

    def refilter() -> None:
        page["n"] = 0
        load()

    def compare() -> None:
        ids = [r["id"] for r in table.selected]
        if len(ids) < 2:
            ui.notify("Select two or more runs to compare", type="warning")
            return
        ui.navigate.to("/compare?runs=" + ",".join(ids))

    for el in (exp, st, pipe, period):
        el.on_value_change(refilter)
    search.on("update:model-value", refilter, throttle=0.4)
    compare_btn.on_click(compare)
    load()
    # Polling the current page keeps states live without a reload (one small query).
    ui.timer(1.5, load)
