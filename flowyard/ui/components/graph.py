"""The run graph: Mermaid rendered in the browser (NiceGUI ships mermaid.js), re-rendered
only when a task's state changes; clicking a node opens that task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from flowyard.services import graph_view

LEGEND = [("SUCCEEDED", "succeeded"), ("RUNNING", "running"), ("PENDING", "pending"),
          ("FAILED", "failed"), ("CACHED", "cached"), ("SKIPPED", "skipped"),
          ("CANCELED", "canceled"), ("NOTSTARTED", "not started")]


class RunGraph:
    def __init__(self, on_task: Callable[[str], None] | None = None) -> None:
        self.on_task = on_task
        self.node_tasks: dict[str, str] = {}
        self.signature: Any = None
        self.view = ui.mermaid("flowchart TB\n  x[loading]", config={
            "securityLevel": "strict", "flowchart": {"htmlLabels": True, "curve": "basis"},
            "fontFamily": "sans-serif"}, on_node_click=self._clicked).classes("w-full").props(
                'data-testid="run-graph"')

    def _clicked(self, e: Any) -> None:
        # NiceGUI reports "flowchart-n8" for Mermaid's "<prefix>-flowchart-n8-3"; ours is "n8".
        task_id = self.node_tasks.get(str(e.node_id).rsplit("-", 1)[-1])
        if task_id and self.on_task:
            self.on_task(task_id)

    def show(self, spec: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
        sig = graph_view.signature(tasks)
        if sig == self.signature:
            return
        self.signature = sig
        g = graph_view.build(spec, tasks)
        self.node_tasks = g.node_tasks
        self.view.set_content(g.mermaid)


def legend() -> None:
    with ui.row().classes("gap-1 items-center"):
        for state, label in LEGEND:
            style = graph_view.STATE_STYLE[state].replace(",", ";").replace("fill:", "background:")
            style = style.replace("stroke-dasharray:", "--d:").replace("stroke-width:", "--w:")
            style = style.replace("stroke:", "border:1px solid ")
            ui.label(f"{graph_view.STATE_ICON[state]} {label}").style(
                style + ";padding:0 6px;border-radius:4px;font-size:12px")
