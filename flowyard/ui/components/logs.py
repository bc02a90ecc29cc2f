"""A task's log, streamed: the view appends what the task wrote since the last poll, and
stops polling once the task has ended and everything was read."""

from __future__ import annotations

from nicegui import ui

from flowyard.services import views
from flowyard.services.context import Services
from flowyard.ui.layout import tid

DONE = frozenset({"SUCCEEDED", "FAILED", "CACHED", "SKIPPED", "CANCELED"})


class LogView:
    def __init__(self, svc: Services, task_id: str) -> None:
        self.svc, self.task_id, self.offset = svc, task_id, 0
        self.log = ui.log(max_lines=5000).classes("w-full h-96 font-mono text-xs").props(tid("task-log"))
        self.empty = ui.label("No output yet.").classes("text-grey-6 text-caption")
        self.timer = ui.timer(0.7, self.poll)
        self.poll()

    def poll(self) -> None:
        text, self.offset, state = views.read_log(self.svc, self.task_id, self.offset)
        if text:
            self.empty.set_visibility(False)
            self.log.push(text.rstrip("\n"))
        elif state in DONE or state == "UNKNOWN":
            self.timer.deactivate()
