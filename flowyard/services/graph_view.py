"""A run's DAG as an SVG the server lays out: one box per executing task, loops,
iterations, conditions and exit handlers as nested groups, edges from the pipeline spec's
`dependentTasks`, and tasks the spec names but the engine has not reached yet drawn as "not
started", so the whole shape shows from the first second of a run.

Laid out here rather than by Mermaid in the browser: Mermaid's layout of a 60-task run took
1.3-2.5 s in Chromium; this layered layout takes milliseconds and the browser only paints."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

from flowyard.services.graph_layout import Box, layout

GROUP_KINDS = frozenset({"dag", "loop", "iteration", "condition", "exit-handler", "branches"})
# fill, stroke, text colour, dash pattern, stroke width
STATE_STYLE: dict[str, tuple[str, str, str, str, float]] = {
    "SUCCEEDED": ("#d1fae5", "#059669", "#064e3b", "", 1.2),
    "RUNNING": ("#dbeafe", "#2563eb", "#1e3a8a", "", 2.5),
    "PENDING": ("#f3f4f6", "#9ca3af", "#374151", "", 1.2),
    "NOTSTARTED": ("#ffffff", "#d1d5db", "#9ca3af", "3 3", 1.2),
    "FAILED": ("#fee2e2", "#dc2626", "#7f1d1d", "", 2.0),
    "CACHED": ("#ccfbf1", "#0d9488", "#134e4a", "6 3", 1.2),
    "SKIPPED": ("#f9fafb", "#9ca3af", "#6b7280", "2 4", 1.2),
    "CANCELED": ("#ffedd5", "#ea580c", "#7c2d12", "", 1.2),
}
STATE_ICON = {"SUCCEEDED": "✔", "RUNNING": "⟳", "FAILED": "✖", "CACHED": "⚡",
              "SKIPPED": "⤼", "CANCELED": "⊘", "PENDING": "…", "NOTSTARTED": "○"}
GROUP_LABEL = {"loop": "loop", "iteration": "", "condition": "condition", "dag": "pipeline",
               "exit-handler": "exit handler", "branches": "branches"}


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


def css_style(state: str) -> str:
    """The state's look as CSS, for legends drawn outside the SVG."""
    fill, stroke, color, dash, _ = STATE_STYLE[state]
    return (f"background:{fill};border:1px {'dashed' if dash else 'solid'} {stroke};"
            f"color:{color}")


@dataclass
class Graph:
    svg: str
    width: float
    height: float
    node_tasks: dict[str, str] = field(default_factory=dict)  # box id -> task id


def _dag_tasks(spec: dict[str, Any], component: str | None) -> dict[str, Any]:
    comp = spec.get("root", {}) if component is None else spec.get("components", {}).get(
        component, {})
    return comp.get("dag", {}).get("tasks", {})


class _Tree:
    """Task rows and the spec turned into Boxes (groups with children, deps by name)."""

    def __init__(self, spec: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
        self.spec = spec
        self.children: dict[str | None, list[dict[str, Any]]] = {}
        for t in tasks:
            self.children.setdefault(t["parent_id"], []).append(t)
        self.n = 0

    def _id(self) -> str:
        self.n += 1
        return f"b{self.n}"

    def scope(self, parent: dict[str, Any] | None) -> list[Box]:
        rows = self.children.get(parent["id"] if parent else None, [])
        if parent is not None and parent["kind"] == "loop":
            return [self.item(r, []) for r in sorted(
                rows, key=lambda r: r["details"].get("index", 0))]
        dag = _dag_tasks(self.spec, parent["component"] if parent else None)
        by_name = {r["path"].rsplit("/", 1)[-1]: r for r in rows}
        boxes = []
        for name, tspec in dag.items():
            deps = [d for d in tspec.get("dependentTasks", []) if d in dag]
            row = by_name.pop(name, None)
            if row is not None:
                boxes.append(self.item(row, deps, name))
            else:
                label = tspec.get("taskInfo", {}).get("name", name)
                boxes.append(Box(self._id(), name, deps, f"○ {label}", "not started",
                                 "NOTSTARTED"))
        boxes += [self.item(r, []) for r in by_name.values()]  # rows the spec does not name
        return boxes

    def item(self, row: dict[str, Any], deps: list[str], key: str = "") -> Box:
        state = row["state"]
        dur = fmt_duration(row["duration"])
        icon = STATE_ICON.get(state, "")
        if row["kind"] in GROUP_KINDS:
            kind = GROUP_LABEL.get(row["kind"], row["kind"])
            extra = (f" · {row['details']['iterations']} items"
                     if row["kind"] == "loop" and "iterations" in row["details"] else "")
            title = f"{icon} {row['name']}" + (f" ({kind})" if kind else "") + extra
            box = Box(self._id(), key or row["id"], deps, title, dur, state, task_id=row["id"],
                      children=self.scope(row))
            return box
        sub = state.lower() + (f" · {dur}" if dur else "")
        if row.get("attempts", 0) > 1:
            sub += f" · {row['attempts']} attempts"
        return Box(self._id(), key or row["id"], deps, f"{icon} {row['name']}", sub, state,
                   task_id=row["id"], importer=row["kind"] == "importer")


SELECTED_STROKE = "#f59e0b"  # amber: unlike every state's colour, so the selection reads at once


def _halo(b: Box) -> str:
    """A ring around the selected task, drawn outside its box so its state colours stay."""
    return (f'<rect class="fy-halo" x="{b.x - 4:.1f}" y="{b.y - 4:.1f}" width="{b.w + 8:.1f}" '
            f'height="{b.h + 8:.1f}" rx="8" fill="none" stroke="{SELECTED_STROKE}" '
            'stroke-width="3"/>')


def _svg(boxes: list[Box], width: float, height: float, selected: str | None = None
         ) -> tuple[str, dict[str, str]]:
    # Natural size at most, shrunk to the container's width (the viewBox keeps proportions).
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" '
             f'style="max-width:{width:.0f}px;height:auto;display:block;margin:auto" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Roboto, sans-serif">',
             '<defs><marker id="fy-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
             'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
             '<path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>']
    groups, nodes, edges = [], [], []
    node_tasks: dict[str, str] = {}

    def walk(items: list[Box]) -> None:
        by_key = {b.key: b for b in items}
        for b in items:
            for dep in b.deps:
                src = by_key.get(dep)
                if src is not None:
                    x1, y1 = src.x + src.w / 2, src.y + src.h
                    x2, y2 = b.x + b.w / 2, b.y
                    dy = max(12.0, (y2 - y1) / 2)
                    edges.append(f'<path d="M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + dy:.1f} '
                                 f'{x2:.1f},{y2 - dy:.1f} {x2:.1f},{y2 - 1:.1f}" fill="none" '
                                 'stroke="#9ca3af" stroke-width="1.3" '
                                 'marker-end="url(#fy-arrow)"/>')
            fill, stroke, color, dash, sw = STATE_STYLE.get(b.state, STATE_STYLE["PENDING"])
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            data = f' data-task="{b.task_id}"' if b.task_id else ""
            if b.task_id:
                node_tasks[b.id] = b.task_id
            chosen = bool(selected) and b.task_id == selected
            sel = " fy-selected" if chosen else ""
            halo = _halo(b) if chosen else ""
            if b.children:
                groups.append(
                    f'<g class="fy-group{sel}" id="{b.id}"{data}>{halo}<rect x="{b.x:.1f}" y="{b.y:.1f}" '
                    f'width="{b.w:.1f}" height="{b.h:.1f}" rx="6" fill="{fill}" '
                    f'fill-opacity="0.55" stroke="{stroke}" stroke-width="{sw}"{dash_attr}/>'
                    f'<text x="{b.x + 8:.1f}" y="{b.y + 15:.1f}" font-size="11" fill="{color}">'
                    f'{escape(b.title)}  <tspan fill-opacity="0.7">{escape(b.sub)}</tspan>'
                    '</text></g>')
                walk(b.children)
            else:
                rx = 2 if b.importer else 5
                cursor = ' style="cursor:pointer"' if b.task_id else ""
                nodes.append(
                    f'<g class="fy-node{sel}" id="{b.id}"{data}{cursor}>{halo}<rect x="{b.x:.1f}" '
                    f'y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="{rx}" fill="{fill}" '
                    f'stroke="{stroke}" stroke-width="{sw}"{dash_attr}/>'
                    f'<text x="{b.x + b.w / 2:.1f}" y="{b.y + 18:.1f}" font-size="12" '
                    f'font-weight="500" text-anchor="middle" fill="{color}">{escape(b.title)}'
                    f'</text><text x="{b.x + b.w / 2:.1f}" y="{b.y + 33:.1f}" font-size="10" '
                    f'text-anchor="middle" fill="{color}" fill-opacity="0.8">{escape(b.sub)}'
                    '</text></g>')

    walk(boxes)
    # Groups behind edges behind tasks, so no arrow hides a task's name.
    return "".join(parts + groups + edges + nodes + ["</svg>"]), node_tasks


def build(spec: dict[str, Any], tasks: list[dict[str, Any]], selected: str | None = None
          ) -> Graph:
    """The drawing of a run (tasks as `views.run_detail` returns them), with the task
    `selected` (an id) ringed."""
    tree = _Tree(spec or {}, tasks)
    boxes = tree.scope(None)
    width, height = layout(boxes)
    svg, node_tasks = _svg(boxes, width, height, selected)
    return Graph(svg, width, height, node_tasks)


def signature(tasks: list[dict[str, Any]]) -> tuple[Any, ...]:
    """What changes the picture: redraw only when this changes."""
    return tuple((t["id"], t["state"], t["attempts"], t["finished_at"] is None) for t in tasks)
