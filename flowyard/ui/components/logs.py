"""A streamed log: the view appends what was written since the last poll, wraps long lines
(a log pane that scrolls sideways hides the end of every long line), and stops polling once
the writer has ended and everything was read. Tasks and pods both use it."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from flowyard.services import views
from flowyard.services.context import Services
from flowyard.ui.layout import tid

DONE = frozenset({"SUCCEEDED", "FAILED", "CACHED", "SKIPPED", "CANCELED", "UNKNOWN"})
# Quasar's scroll area lays the log out with `white-space: pre`; wrap instead, breaking long
# words (URLs, base64) anywhere so no line is wider than the pane.
WRAP_CSS = (".fy-log .q-scrollarea__content{white-space:pre-wrap;overflow-wrap:anywhere;"
            "word-break:break-word;min-width:0!important;width:100%}"
            ".fy-log .q-scrollarea__container{overflow-x:hidden!important}")
# (offset) -> (text from offset, next offset, whether the writer has ended)
Reader = Callable[[int], tuple[str, int, bool]]


class LogView:
    def __init__(self, read: Reader, test_id: str = "task-log", max_lines: int = 5000) -> None:
        ui.add_css(WRAP_CSS)
        self.read, self.offset = read, 0
        self.log = ui.log(max_lines=max_lines).classes(
            "w-full h-96 font-mono text-xs fy-log").props(tid(test_id))
        self.empty = ui.label("No output yet.").classes("text-grey-6 text-caption")
        self.timer = ui.timer(0.7, self.poll)
        self.poll()

    def poll(self) -> None:
        text, self.offset, ended = self.read(self.offset)
        if text:
            self.empty.set_visibility(False)
            self.log.push(text.rstrip("\n"))
        elif ended:
            self.timer.deactivate()


def task_log(svc: Services, task_id: str) -> LogView:
    def read(offset: int) -> tuple[str, int, bool]:
        text, nxt, state = views.read_log(svc, task_id, offset)
        return text, nxt, state in DONE

    return LogView(read)
