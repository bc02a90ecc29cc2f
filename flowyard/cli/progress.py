"""Live view of a run in the terminal: the task tree with states and durations, refreshed
from the store while the engine works."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text
from rich.tree import Tree

from flowyard.store import Store
from flowyard.store.schema import Task, utcnow

STYLE = {
    "PENDING": ("…", "dim"), "RUNNING": ("▶", "yellow"), "SUCCEEDED": ("✔", "green"),
    "CACHED": ("✔", "cyan"), "SKIPPED": ("○", "dim"), "FAILED": ("✘", "red"),
    "CANCELED": ("■", "magenta"),
}


def _duration(t: Task) -> str:
    if t.started_at is None:
        return ""
    end: datetime = t.finished_at or utcnow()
    secs = max(0.0, (end - t.started_at).total_seconds())
    return f"{secs * 1000:.0f}ms" if secs < 1 else f"{secs:.1f}s"


def render(title: str, tasks: list[Task]) -> Tree:
    tree = Tree(Text(title, style="bold"))
    nodes: dict[str | None, Any] = {None: tree}
    for t in sorted(tasks, key=lambda t: t.path.count("/")):
        icon, style = STYLE.get(t.state, ("?", ""))
        label = Text.assemble((f"{icon} ", style), (t.name, "bold" if t.kind == "container" else ""),
                              (f"  {t.state.lower()}", style), (f"  {_duration(t)}", "dim"))
        if t.state == "CACHED":
            label.append("  (from cache)", "cyan")
        if t.state == "FAILED" and t.error and t.kind in ("container", "importer"):
            label.append(f"\n   {t.error}", "red")
        parent = nodes.get(t.parent_id, tree)
        nodes[t.id] = parent.add(label)
    return tree


def progress(store: Store, run_id: str, title: str, console: Console
             ) -> LiveProgress | PlainProgress:
    """The live tree on a terminal; plain lines, one per change of a task's state, when the
    output goes to a file or a pipe (where a redrawn tree would come out as one final frame)."""
    if console.is_terminal:
        return LiveProgress(store, run_id, title, console)
    return PlainProgress(store, run_id, title, console)


def task_label(t: Task, by_id: dict[str, Task]) -> str:
    """The task's place in the run: `for-loop-1 [0] 3 / train` for a loop iteration's task."""
    names = [t.name]
    parent = by_id.get(t.parent_id or "")
    while parent is not None:
        names.append(parent.name)
        parent = by_id.get(parent.parent_id or "")
    return " / ".join(reversed(names))


class PlainProgress:
    POLL_S = 0.25

    def __init__(self, store: Store, run_id: str, title: str, console: Console) -> None:
        self.store, self.run_id, self.title, self.console = store, run_id, title, console
        self._seen: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PlainProgress:
        self._line(self.title)
        self._thread.start()
        return self

    def _line(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)
        self.console.file.flush()

    def _report(self) -> None:
        tasks = self.store.tasks(self.run_id)
        by_id = {t.id: t for t in tasks}
        for t in tasks:
            if self._seen.get(t.id) == t.state:
                continue
            self._seen[t.id] = t.state
            stamp = utcnow().strftime("%H:%M:%S")
            line = f"{stamp}  {task_label(t, by_id)}  {t.state.lower()}"
            if t.state in ("SUCCEEDED", "FAILED", "CANCELED") and t.started_at:
                line += f"  {_duration(t)}"
            if t.state == "CACHED":
                line += "  (from cache)"
            if t.state == "FAILED" and t.error and t.kind in ("container", "importer"):
                line += f": {t.error}"
            self._line(line)

    def _loop(self) -> None:
        while not self._stop.wait(self.POLL_S):
            self._report()

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._report()


class LiveProgress:
    def __init__(self, store: Store, run_id: str, title: str, console: Console) -> None:
        self.store, self.run_id, self.title = store, run_id, title
        self._stop = threading.Event()
        self._live = Live(console=console, refresh_per_second=8, transient=False)
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(0.15):
            self._live.update(render(self.title, self.store.tasks(self.run_id)))

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._live.update(render(self.title, self.store.tasks(self.run_id)))
        self._live.__exit__(*exc)
