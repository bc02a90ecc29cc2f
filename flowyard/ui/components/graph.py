"""The run graph: an SVG laid out on the server (services/graph_view), redrawn only when a
task's state changes; clicking a task or a group opens it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from flowyard.services import graph_view
from flowyard.ui.layout import tid

LEGEND = [("SUCCEEDED", "succeeded"), ("RUNNING", "running"), ("PENDING", "pending"),
          ("FAILED", "failed"), ("CACHED", "cached"), ("SKIPPED", "skipped"),
          ("CANCELED", "canceled"), ("NOTSTARTED", "not started")]
# The browser sends back which task was clicked, nothing else.
CLICK_JS = ("(e) => { const g = e.target.closest('[data-task]');"
            " if (g) emit(g.getAttribute('data-task')); }")


class RunGraph:
    def __init__(self, on_task: Callable[[str], None] | None = None) -> None:
        self.on_task = on_task
        self.signature: Any = None
        self.selected: str | None = None
        self._last: tuple[dict[str, Any], list[dict[str, Any]]] | None = None
        # The SVG is built here from escaped text only, so it needs no sanitising.
        self.view = ui.html("", sanitize=False).classes("w-full overflow-auto").props(
            tid("run-graph"))
        self.view.on("click", self._clicked, js_handler=CLICK_JS)

    def _clicked(self, e: Any) -> None:
        task_id = e.args if isinstance(e.args, str) else None
        if task_id and self.on_task:
            self.on_task(task_id)

    def show(self, spec: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
        sig = (graph_view.signature(tasks), self.selected)
        if sig == self.signature:
            return
        self.signature = sig
        self._last = (spec, tasks)
        self.view.set_content(graph_view.build(spec, tasks, self.selected).svg)

    def select(self, task_id: str | None) -> None:
        """Ring the task the side panel shows (or none)."""
        self.selected = task_id
        if self._last is not None:
            self.show(*self._last)


def legend() -> None:
    with ui.row().classes("gap-1 items-center"):
        for state, label in LEGEND:
            ui.label(f"{graph_view.STATE_ICON[state]} {label}").style(
                graph_view.css_style(state) + ";padding:0 6px;border-radius:4px;font-size:12px")
