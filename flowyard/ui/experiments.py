"""Experiments: runs grouped by experiment, and the compare view of two or more runs
(parameters and metrics side by side, differences highlighted, metric charts across runs)."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from flowyard.services import experiments, run_metrics, views
from flowyard.services.errors import ApiError
from flowyard.ui import layout
from flowyard.ui.layout import tid
from flowyard.ui.runs import metric_cells, metric_columns, set_columns
from flowyard.ui.state import services

COLUMNS = [
    {"name": "name", "label": "Experiment", "field": "name", "align": "left"},
    {"name": "description", "label": "Description", "field": "description", "align": "left"},
    {"name": "runs", "label": "Runs", "field": "runs", "align": "right"},
    {"name": "states", "label": "By state", "field": "states", "align": "left"},
    {"name": "last", "label": "Last run", "field": "last", "align": "left"},
]


@ui.page("/experiments")
def experiments_page() -> None:
    svc = services()
    with layout.frame("Experiments", "Experiments"):
        with ui.row().classes("items-end gap-2"):
            name = ui.input("New experiment").props("dense")
            desc = ui.input("Description").props("dense")

            def create() -> None:
                try:
                    experiments.create(svc, {"display_name": name.value or "",
                                             "description": desc.value or ""})
                except ApiError as exc:
                    ui.notify(exc.message, type="negative")
                    return
                name.value = desc.value = ""
                load()

            ui.button("Create", icon="add", on_click=create).props("outline")
        table = ui.table(columns=COLUMNS, rows=[], row_key="id").props(
            "dense flat bordered").classes("w-full").props(tid("experiments-table"))
        table.add_slot("body-cell-name", layout.LINK_SLOT)

    def load() -> None:
        exps = views.experiments_overview(svc)
        # Each experiment's newest succeeded run's metrics, as columns (as on the runs list).
        labels = run_metrics.columns({e["id"]: e["metrics"] for e in exps})
        set_columns(table, COLUMNS + metric_columns(labels))
        rows = [{"id": e["id"], "name": e["name"] + (" (archived)" if e["archived"] else ""),
                 "href": f"/runs?experiment={e['id']}", "description": e["description"],
                 "runs": e["runs"],
                 "states": ", ".join(f"{k.lower()} {v}" for k, v in sorted(e["states"].items())),
                 "last": layout.ago(e["last_run"]), **metric_cells(e["metrics"], labels)}
                for e in exps]
        if rows != table.rows:
            table.rows = rows
            table.update()

    load()
    ui.timer(2.0, load)


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.6g}"
    return layout.short(v if isinstance(v, str) else repr(v), 60)


def _side_by_side(title: str, rows: list[dict[str, Any]], runs: list[dict[str, Any]],
                  mark: str) -> None:
    ui.label(title).classes("text-h6")
    if not rows:
        ui.label("none").classes("text-grey-6")
        return
    cols = [{"name": "key", "label": "", "field": "key", "align": "left"}] + [
        {"name": r["id"], "label": r["name"], "field": r["id"], "align": "right"} for r in runs]
    data = [{"key": row["key"], "differs": row["differs"],
             **{r["id"]: _fmt(row["values"].get(r["id"])) for r in runs}} for row in rows]
    table = ui.table(columns=cols, rows=data, row_key="key").props(
        "dense flat bordered").classes("w-full").props(tid(mark))
    # Rows whose values differ across runs are what a comparison is for: mark them.
    table.add_slot("body", r'''
<q-tr :props="props" :class="props.row.differs ? 'bg-amber-2 differs' : ''">
  <q-td v-for="col in props.cols" :key="col.name" :props="props">
    <b v-if="props.row.differs && col.name === 'key'">{{ col.value }} ≠</b>
    <span v-else>{{ col.value }}</span>
  </q-td>
</q-tr>''')


@ui.page("/compare")
def compare_page(runs: str = "") -> None:
    svc = services()
    ids = [r for r in runs.split(",") if r]
    with layout.frame("Compare runs", "Experiments"):
        if len(ids) < 2:
            ui.label("Pick two or more runs on the Runs page to compare them.")
            return
        try:
            data = views.compare(svc, ids)
        except ApiError as exc:
            ui.label(exc.message).classes("text-negative")
            return
        with ui.row().classes("gap-2"):
            for r in data["runs"]:
                with ui.card().classes("q-pa-sm"):
                    ui.link(r["name"], f"/runs/{r['id']}")
                    with ui.row().classes("gap-1 items-center"):
                        layout.state_badge(r["state"])
                        ui.label(r["pipeline"]).classes("text-caption text-grey-7")
        _side_by_side("Parameters", data["parameters"], data["runs"], "compare-params")
        _side_by_side("Metrics", data["metrics"], data["runs"], "compare-metrics")
        if data["metrics"]:
            ui.label("Metrics across runs").classes("text-h6")
            _metric_chart(data)


def _metric_chart(data: dict[str, Any]) -> None:
    names = [r["name"] for r in data["runs"]]
    series = [{"name": m["key"], "type": "bar",
               "data": [m["values"].get(r["id"]) for r in data["runs"]]}
              for m in data["metrics"]]
    ui.echart({"animation": False, "tooltip": {"trigger": "axis"}, "legend": {"type": "scroll"},
               "grid": {"left": 60, "right": 20, "top": 40, "bottom": 60},
               "xAxis": {"type": "category", "data": names, "axisLabel": {"interval": 0}},
               "yAxis": {"type": "value"}, "series": series}).classes("w-full").style(
        "height: 360px").props(tid("compare-chart"))
