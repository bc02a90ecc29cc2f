"""Workloads: per namespace, the pods, jobs, deployments and services Flowyard runs, with the
columns `kubectl get` prints; each name opens its page (ui/workload_pages.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from flowyard.services import workloads_view
from flowyard.services.errors import ApiError
from flowyard.ui import layout
from flowyard.ui.layout import tid
from flowyard.ui.state import services


def _col(name: str, label: str, align: str = "left") -> dict[str, Any]:
    return {"name": name, "label": label, "field": name, "align": align}


COLUMNS: dict[str, list[dict[str, Any]]] = {
    "pods": [_col("name", "Name"), _col("ready", "Ready"), _col("status", "Status"),
             _col("restarts", "Restarts", "right"), _col("age", "Age", "right"),
             _col("ip", "IP"), _col("owner", "Controlled by")],
    "jobs": [_col("name", "Name"), _col("status", "Status"), _col("completions", "Completions"),
             _col("duration", "Duration", "right"), _col("age", "Age", "right")],
    "deployments": [_col("name", "Name"), _col("ready", "Ready"),
                    _col("up_to_date", "Up-to-date", "right"),
                    _col("available", "Available", "right"), _col("age", "Age", "right")],
    "services": [_col("name", "Name"), _col("type", "Type"), _col("cluster_ip", "Cluster-IP"),
                 _col("external_ip", "External-IP"), _col("ports", "Port(s)"),
                 _col("selector", "Selector"), _col("age", "Age", "right")],
}
LISTS: dict[str, Callable[[Any, str], list[dict[str, Any]]]] = {
    "pods": workloads_view.list_pods, "jobs": workloads_view.list_jobs,
    "deployments": workloads_view.list_deployments, "services": workloads_view.list_services}
TITLES = {"pods": "Pods", "jobs": "Jobs", "deployments": "Deployments", "services": "Services"}
# Pod and Job statuses as kubectl prints them, coloured like run states.
STATUS_SLOT = r'''
<q-td :props="props">
  <q-badge :color="({Running:'primary',Completed:'positive',Complete:'positive',Succeeded:'positive',
    Pending:'grey-6',ContainerCreating:'grey-6',Terminating:'orange-8',Suspended:'orange-6'}
    )[props.value] || (/Error|BackOff|OOMKilled|Failed|ExitCode|Signal|Err/.test(props.value)
    ? 'negative' : 'grey-7')" :label="props.value" />
</q-td>
'''


GOOD = {"Running": "primary", "Completed": "positive", "Complete": "positive",
        "Succeeded": "positive", "Terminating": "orange-8", "Suspended": "orange-6"}
BAD = ("Error", "BackOff", "OOMKilled", "Failed", "ExitCode", "Signal", "Err")


def status_color(status: str) -> str:
    """The badge colour of a kubectl status word (the same as STATUS_SLOT's)."""
    if status in GOOD:
        return GOOD[status]
    return "negative" if any(b in status for b in BAD) else "grey-7"


def page_path(namespace: str, plural: str, name: str) -> str:
    return f"/workloads/{namespace}/{plural}/{name}"


def table_rows(plural: str, namespace: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        row = {**item, "id": item["name"], "href": page_path(namespace, plural, item["name"])}
        owner = item.get("owner")
        if plural == "pods":
            row["owner"] = f"{owner['kind']}/{owner['name']}" if owner else ""
        rows.append(row)
    return rows


def workload_table(plural: str, test_id: str) -> ui.table:
    table = ui.table(columns=COLUMNS[plural], rows=[], row_key="id").props(
        "dense flat bordered").classes("w-full").props(tid(test_id))
    table.add_slot("body-cell-name", layout.LINK_SLOT)
    if plural in ("pods", "jobs"):
        table.add_slot("body-cell-status", STATUS_SLOT)
    return table


def show_rows(table: ui.table, rows: list[dict[str, Any]]) -> None:
    if rows != table.rows:
        table.rows = rows
        table.update()


@ui.page("/workloads")
def workloads_page(ns: str = "default", kind: str = "pods") -> None:
    svc = services()
    kind = kind if kind in LISTS else "pods"
    with layout.frame("Workloads", "Workloads"):
        with ui.row().classes("items-end gap-3"):
            pick = ui.select(workloads_view.namespaces(svc), value=ns, label="Namespace").props(
                "dense").classes("w-56").props(tid("namespace"))
            ui.label("Pods, Jobs, Deployments and Services, as kubectl shows them").classes(
                "text-caption text-grey-7")
        with ui.tabs().props("dense no-caps align=left").classes("w-full") as tabs:
            tab = {p: ui.tab(p, TITLES[p]).props(tid(f"tab-{p}")) for p in LISTS}
        with ui.tab_panels(tabs, value=kind).classes("w-full"):
            tables = {}
            for plural in LISTS:
                with ui.tab_panel(plural).classes("q-pa-none"):
                    tables[plural] = workload_table(plural, f"{plural}-table")
        error = ui.label().classes("text-negative")

    counts: dict[str, int] = {}

    def load() -> None:
        namespace = pick.value or "default"
        try:
            for plural, lister in LISTS.items():
                items = lister(svc, namespace)
                if counts.get(plural) != len(items):
                    counts[plural] = len(items)
                    tab[plural].props(f'label="{TITLES[plural]} ({len(items)})"')
                show_rows(tables[plural], table_rows(plural, namespace, items))
        except ApiError as exc:
            error.set_text(exc.message)
            return
        error.set_text("")

    pick.on_value_change(load)
    load()
    ui.timer(2.0, load)


def register() -> None:
    layout.register_nav("Workloads", "widgets", "/workloads", after="Recurring runs")
    from flowyard.ui import workload_pages  # noqa: F401  (importing it registers its routes)
