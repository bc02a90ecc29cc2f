"""One workload's page: a Pod (containers with the command each ran, conditions, the state
history, restarts, events, and each container's log followed live), a Job's or a Deployment's
pods (and a Deployment's ReplicaSets), a Service's endpoints."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Any

from nicegui import ui

from flowyard.services import workload_status, workloads_view
from flowyard.services.errors import ApiError
from flowyard.ui import layout
from flowyard.ui.components.logs import LogView
from flowyard.ui.layout import tid
from flowyard.ui.state import services
from flowyard.ui.workloads import show_rows, status_color, table_rows, workload_table


def _kv(items: list[tuple[str, Any]]) -> None:
    """Key/value lines; keys without a value are left out."""
    with ui.grid(columns="auto 1fr").classes("gap-x-4 gap-y-0 text-body2"):
        for key, value in items:
            if value in (None, ""):
                continue
            ui.label(key).classes("text-grey-7")
            ui.label("" if value is None else str(value)).classes("font-mono break-all")


def _simple_table(columns: list[tuple[str, str]], rows: list[dict[str, Any]], test_id: str
                  ) -> ui.table:
    table = ui.table(columns=[{"name": k, "label": label, "field": k, "align": "left"}
                              for k, label in columns], rows=rows).props(
        "dense flat bordered wrap-cells").classes("w-full").props(tid(test_id))
    return table


def _events(events: list[dict[str, Any]]) -> None:
    if not events:
        ui.label("No events.").classes("text-grey-6 text-caption")
        return
    rows = [{**e, "at": layout.when(workload_status.parse_time(e.get("eventTime")))}
            for e in events]
    _simple_table([("type", "Type"), ("reason", "Reason"), ("at", "Time"),
                   ("message", "Message")], rows, "events-table")


def _conditions(conds: list[dict[str, Any]]) -> None:
    rows = [{"type": c.get("type", ""), "status": c.get("status", ""),
             "reason": c.get("reason", ""), "message": c.get("message", ""),
             "since": c.get("lastTransitionTime", "")} for c in conds]
    if not rows:
        ui.label("No conditions yet.").classes("text-grey-6 text-caption")
        return
    _simple_table([("type", "Condition"), ("status", "Status"), ("reason", "Reason"),
                   ("message", "Message"), ("since", "Since")], rows, "conditions-table")


def _title(name: str, ns: str, test_id: str) -> None:
    with ui.row().classes("items-center gap-3"):
        ui.label(name).classes("text-h5").props(tid(test_id))
        ui.link(f"namespace {ns}", f"/workloads?ns={ns}").classes("text-caption")


def _missing(title: str, active: str, exc: ApiError) -> None:
    with layout.frame(title, active):
        ui.label(exc.message).classes("text-negative")
        ui.link("back to Workloads", "/workloads")


def _live(draw: Callable[[dict[str, Any]], None], read: Callable[[], dict[str, Any]],
          key: Callable[[dict[str, Any]], Any]) -> None:
    """Redraw with `read()` whenever `key` of it changes (polled)."""
    last: dict[str, Any] = {"key": object()}

    def tick() -> None:
        try:
            data = read()
        except ApiError:
            return  # deleted meanwhile: keep what was shown
        k = key(data)
        if k != last["key"]:
            last["key"] = k
            draw(data)

    tick()
    ui.timer(1.5, tick)


def _container_card(c: dict[str, Any]) -> None:
    with ui.card().classes("w-full q-pa-sm").props(tid(f"container-{c['name']}")):
        with ui.row().classes("items-center gap-2"):
            ui.label(c["name"]).classes("text-subtitle1 font-medium")
            if c["role"] != "container":
                ui.badge(c["role"], color="blue-grey-5")
            ui.badge(c["state"] or "unknown", color={"running": "primary", "waiting": "grey-6",
                                                     "terminated": "blue-grey-7"}.get(
                c["state"], "grey")).props(tid("container-state"))
            ui.label("ready" if c["ready"] else "not ready").classes("text-caption text-grey-7")
            ui.label(f"restarts {c['restarts']}").classes("text-caption").props(
                tid("container-restarts"))
        items: list[tuple[str, Any]] = [("image", c["image"]), ("state", c["detail"])]
        if c["last_state"]:
            items.append(("last state", f"{c['last_state']}: {c['last_detail']}"))
        if c["working_dir"]:
            items.append(("working dir", c["working_dir"]))
        if c["ports"]:
            items.append(("ports", ", ".join(c["ports"])))
        if c["resources"]:
            items.append(("resources", json.dumps(c["resources"])))
        _kv(items)
        ui.label("Command").classes("text-caption text-grey-7 q-mt-xs")
        ui.code(shlex.join(c["command"]) if c["command"] else "(the image's entrypoint)",
                language="bash").classes("w-full").props(tid("container-command"))


def _history(history: list[dict[str, Any]]) -> None:
    rows = [{"at": layout.when(h["at"]), "status": h["status"],
             "containers": "; ".join(
                 f"{c['name']}: {c['state'] or '—'}" + (f" ({c['detail']})" if c["detail"] else "")
                 + (f", restarts {c['restarts']}" if c["restarts"] else "")
                 for c in h["containers"])} for h in history]
    _simple_table([("at", "Time"), ("status", "Status"), ("containers", "Containers")], rows,
                  "history-table")


def _pod_logs(svc: Any, ns: str, name: str, containers: list[str]) -> None:
    with ui.row().classes("items-center gap-3"):
        pick = ui.select(containers, value=containers[0] if containers else None,
                         label="Container").props("dense").classes("w-56").props(
            tid("log-container"))
        prev = ui.switch("previous run (before the last restart)").props(tid("log-previous"))
    box = ui.column().classes("w-full")

    def show() -> None:
        box.clear()
        if not pick.value:
            return
        container, previous = str(pick.value), bool(prev.value)
        with box:
            LogView(lambda off: workloads_view.container_log(svc, ns, name, container, off,
                                                             previous), test_id="pod-log")

    pick.on_value_change(show)
    prev.on_value_change(show)
    show()


@ui.page("/workloads/{ns}/pods/{name}")
def pod_page(ns: str, name: str) -> None:
    svc = services()
    try:
        first = workloads_view.pod_detail(svc, ns, name)
    except ApiError as exc:
        _missing("Pod", "Workloads", exc)
        return
    with layout.frame(f"Pod {name}", "Workloads"):
        with ui.row().classes("items-center gap-3"):
            ui.label(name).classes("text-h5").props(tid("pod-name"))
            status_box = ui.element("span").props(tid("pod-status"))
            ui.link(f"namespace {ns}", f"/workloads?ns={ns}").classes("text-caption")
        info = ui.column().classes("gap-0")
        with ui.tabs().props("dense no-caps align=left").classes("w-full") as tabs:
            ui.tab("containers", "Containers")
            ui.tab("logs", "Logs").props(tid("tab-logs"))
            ui.tab("history", "State history").props(tid("tab-history"))
            ui.tab("events", "Events").props(tid("tab-events"))
            ui.tab("yaml", "Object")
        with ui.tab_panels(tabs, value="containers").classes("w-full"):
            with ui.tab_panel("containers"):
                containers_box = ui.column().classes("w-full gap-2")
            with ui.tab_panel("logs"):
                _pod_logs(svc, ns, name, [c["name"] for c in first["containers"]])
            with ui.tab_panel("history"):
                history_box = ui.column().classes("w-full")
            with ui.tab_panel("events"):
                events_box = ui.column().classes("w-full")
            with ui.tab_panel("yaml"):
                object_box = ui.column().classes("w-full")

    def draw(d: dict[str, Any]) -> None:
        row = d["row"]
        status_box.clear()
        with status_box:
            ui.badge(row["status"], color=status_color(row["status"]))
        info.clear()
        with info:
            owner = row["owner"]
            _kv([("phase", d["phase"] + (f" ({d['reason']})" if d["reason"] else "")),
                 ("ready", row["ready"]), ("restarts", row["restarts"]), ("IP", row["ip"]),
                 ("node", row["node"]), ("started", d["start_time"]), ("QoS", d["qos"]),
                 ("labels", ", ".join(f"{k}={v}" for k, v in d["labels"].items())),
                 ("controlled by", f"{owner['kind']}/{owner['name']}" if owner else "")])
            if d["message"]:
                ui.label(d["message"]).classes("text-negative text-body2")
            if d["controller"]:
                plural, owner_name = d["controller"]
                ui.link(f"open {plural[:-1]} {owner_name}",
                        f"/workloads/{ns}/{plural}/{owner_name}").props(tid("pod-controller"))
        containers_box.clear()
        with containers_box:
            for c in d["containers"]:
                _container_card(c)
            ui.label("Conditions").classes("text-subtitle1")
            _conditions(d["conditions"])
        _redraw(history_box, _history, d["history"])
        _redraw(events_box, _events, d["events"])
        object_box.clear()
        with object_box:
            ui.code(json.dumps(d["object"], indent=2), language="json").classes("w-full")

    _live(draw, lambda: workloads_view.pod_detail(svc, ns, name),
          lambda d: (d["resource_version"], len(d["events"])))


def _redraw(section: ui.element, draw: Any, *args: Any) -> None:
    """Empty a section and draw it again from the latest read."""
    section.clear()
    with section:
        draw(*args)


def _pods_section(ns: str, pods: list[dict[str, Any]], table: ui.table) -> None:
    show_rows(table, table_rows("pods", ns, pods))


@ui.page("/workloads/{ns}/jobs/{name}")
def job_page(ns: str, name: str) -> None:
    svc = services()
    try:
        workloads_view.job_detail(svc, ns, name)
    except ApiError as exc:
        _missing("Job", "Workloads", exc)
        return
    with layout.frame(f"Job {name}", "Workloads"):
        _title(name, ns, "job-name")
        info = ui.column().classes("gap-0")
        ui.label("Pods").classes("text-h6")
        pods = workload_table("pods", "job-pods")
        ui.label("Conditions").classes("text-h6")
        conds = ui.column().classes("w-full")
        ui.label("Events").classes("text-h6")
        events = ui.column().classes("w-full")

    def draw(d: dict[str, Any]) -> None:
        info.clear()
        with info:
            row = d["row"]
            _kv([("status", row["status"]), ("completions", row["completions"]),
                 ("duration", row["duration"]), ("age", row["age"])])
        _pods_section(ns, d["pods"], pods)
        _redraw(conds, _conditions, d["conditions"])
        _redraw(events, _events, d["events"])

    _live(draw, lambda: workloads_view.job_detail(svc, ns, name),
          lambda d: (d["object"]["metadata"].get("resourceVersion"), json.dumps(
              d["pods"], default=str), len(d["events"])))


@ui.page("/workloads/{ns}/deployments/{name}")
def deployment_page(ns: str, name: str) -> None:
    svc = services()
    try:
        workloads_view.deployment_detail(svc, ns, name)
    except ApiError as exc:
        _missing("Deployment", "Workloads", exc)
        return
    with layout.frame(f"Deployment {name}", "Workloads"):
        _title(name, ns, "deployment-name")
        info = ui.column().classes("gap-0")
        ui.label("Pods").classes("text-h6")
        pods = workload_table("pods", "deployment-pods")
        ui.label("ReplicaSets").classes("text-h6")
        sets = ui.column().classes("w-full")
        ui.label("Conditions").classes("text-h6")
        conds = ui.column().classes("w-full")
        ui.label("Events").classes("text-h6")
        events = ui.column().classes("w-full")

    def draw(d: dict[str, Any]) -> None:
        info.clear()
        with info:
            row = d["row"]
            _kv([("ready", row["ready"]), ("up-to-date", row["up_to_date"]),
                 ("available", row["available"]), ("age", row["age"])])
        _pods_section(ns, d["pods"], pods)
        sets.clear()
        with sets:
            _simple_table([("name", "ReplicaSet"), ("revision", "Revision"),
                           ("desired", "Desired"), ("ready", "Ready"), ("age", "Age")],
                          d["replicasets"], "replicasets-table")
        _redraw(conds, _conditions, d["conditions"])
        _redraw(events, _events, d["events"])

    _live(draw, lambda: workloads_view.deployment_detail(svc, ns, name),
          lambda d: (d["object"]["metadata"].get("resourceVersion"), json.dumps(
              [d["pods"], d["replicasets"]], default=str), len(d["events"])))


@ui.page("/workloads/{ns}/services/{name}")
def service_page(ns: str, name: str) -> None:
    svc = services()
    try:
        workloads_view.service_detail(svc, ns, name)
    except ApiError as exc:
        _missing("Service", "Workloads", exc)
        return
    with layout.frame(f"Service {name}", "Workloads"):
        _title(name, ns, "service-name")
        info = ui.column().classes("gap-0")
        ui.label("Endpoints (the pods its selector picks)").classes("text-h6")
        pods = workload_table("pods", "service-pods")

    def draw(d: dict[str, Any]) -> None:
        info.clear()
        with info:
            row = d["row"]
            _kv([("type", row["type"]), ("cluster IP", row["cluster_ip"]),
                 ("external IP", row["external_ip"]), ("ports", row["ports"]),
                 ("selector", row["selector"]), ("age", row["age"])])
        _pods_section(ns, d["pods"], pods)

    _live(draw, lambda: workloads_view.service_detail(svc, ns, name),
          lambda d: json.dumps([d["row"], d["pods"]], default=str))
