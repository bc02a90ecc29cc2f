"""A run's DAG as a Mermaid flowchart: one node per executing task, loops, iterations,
conditions and exit handlers as nested groups, edges from the pipeline spec's
`dependentTasks`, and tasks the spec names but the engine has not reached yet as "not
started" nodes, so the whole shape shows from the first second of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GROUP_KINDS = frozenset({"dag", "loop", "iteration", "condition", "exit-handler", "branches"})
STATE_STYLE = {
    "SUCCEEDED": "fill:#d1fae5,stroke:#059669,color:#064e3b",
    "RUNNING": "fill:#dbeafe,stroke:#2563eb,color:#1e3a8a,stroke-width:3px",
    "PENDING": "fill:#f3f4f6,stroke:#9ca3af,color:#374151",
    "NOTSTARTED": "fill:#ffffff,stroke:#d1d5db,color:#9ca3af,stroke-dasharray:3 3",
    "FAILED": "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d,stroke-width:2px",
    "CACHED": "fill:#ccfbf1,stroke:#0d9488,color:#134e4a,stroke-dasharray:6 3",
    "SKIPPED": "fill:#f9fafb,stroke:#9ca3af,color:#6b7280,stroke-dasharray:2 4",
    "CANCELED": "fill:#ffedd5,stroke:#ea580c,color:#7c2d12",
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


def _esc(text: str) -> str:
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;"))


@dataclass
class Graph:
    mermaid: str
    node_tasks: dict[str, str] = field(default_factory=dict)  # mermaid id -> task id


def _dag_tasks(spec: dict[str, Any], component: str | None) -> dict[str, Any]:
    comp = spec.get("root", {}) if component is None else spec.get("components", {}).get(
        component, {})
    return comp.get("dag", {}).get("tasks", {})


class _Builder:
    def __init__(self, spec: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
        self.spec = spec
        self.lines = ["flowchart TB"]
        self.styles: list[str] = []
        self.node_tasks: dict[str, str] = {}
        self.children: dict[str | None, list[dict[str, Any]]] = {}
        for t in tasks:
            self.children.setdefault(t["parent_id"], []).append(t)
        self.n = 0

    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def scope(self, parent: dict[str, Any] | None, indent: str) -> None:
        rows = self.children.get(parent["id"] if parent else None, [])
        if parent is not None and parent["kind"] == "loop":
            for row in sorted(rows, key=lambda r: r["details"].get("index", 0)):
                self.item(row, indent)
            return
        dag = _dag_tasks(self.spec, parent["component"] if parent else None)
        by_name = {r["path"].rsplit("/", 1)[-1]: r for r in rows}
        ids: dict[str, str] = {}
        for name, tspec in dag.items():
            row = by_name.pop(name, None)
            if row is not None:
                ids[name] = self.item(row, indent)
            else:
                ids[name] = self._id("p")
                label = tspec.get("taskInfo", {}).get("name", name)
                self.lines.append(f'{indent}{ids[name]}["{_esc("○ " + label)}"]')
                self.styles.append(f"style {ids[name]} {STATE_STYLE['NOTSTARTED']}")
        for row in by_name.values():  # rows the spec does not name (should not happen)
            self.item(row, indent)
        for name, tspec in dag.items():
            for dep in tspec.get("dependentTasks", []):
                if dep in ids:
                    self.lines.append(f"{indent}{ids[dep]} --> {ids[name]}")

    def item(self, row: dict[str, Any], indent: str) -> str:
        state = row["state"]
        dur = fmt_duration(row["duration"])
        if row["kind"] in GROUP_KINDS:
            gid = self._id("g")
            kind = GROUP_LABEL.get(row["kind"], row["kind"])
            title = f"{row['name']}" + (f" ({kind})" if kind else "")
            extra = f" · {row['details']['iterations']} items" if row["kind"] == "loop" and (
                "iterations" in row["details"]) else ""
            label = f"{STATE_ICON.get(state, '')} {title}{extra} {dur}".strip()
            self.lines.append(f'{indent}subgraph {gid}["{_esc(label)}"]')
            self.lines.append(f"{indent}  direction TB")
            if not self.children.get(row["id"]) and row["kind"] != "loop":
                self.scope(row, indent + "  ")
            elif not self.children.get(row["id"]):
                # An empty group is a syntax error in Mermaid: show why it is empty.
                hid = self._id("h")
                self.lines.append(f'{indent}  {hid}["{_esc(state.lower())}"]')
                self.styles.append(f"style {hid} {STATE_STYLE.get(state, '')}")
            else:
                self.scope(row, indent + "  ")
            self.lines.append(f"{indent}end")
            self.styles.append(f"style {gid} {STATE_STYLE.get(state, '')}")
            return gid
        nid = self._id("n")
        self.node_tasks[nid] = row["id"]
        sub = state.lower() + (f" · {dur}" if dur else "")
        if row.get("attempts", 0) > 1:
            sub += f" · {row['attempts']} attempts"
        shape = ("[/", "/]") if row["kind"] == "importer" else ("[", "]")
        self.lines.append(f'{indent}{nid}{shape[0]}"{_label(row, sub)}"{shape[1]}')
        self.styles.append(f"style {nid} {STATE_STYLE.get(state, STATE_STYLE['PENDING'])}")
        return nid


def _label(row: dict[str, Any], sub: str) -> str:
    return f"{STATE_ICON.get(row['state'], '')} {_esc(row['name'])}<br/><small>{_esc(sub)}</small>"


def build(spec: dict[str, Any], tasks: list[dict[str, Any]]) -> Graph:
    """The Mermaid source for a run (tasks as `views.run_detail` returns them)."""
    b = _Builder(spec or {}, tasks)
    b.scope(None, "  ")
    return Graph("\n".join(b.lines + ["  " + s for s in b.styles]), b.node_tasks)


def signature(tasks: list[dict[str, Any]]) -> tuple[Any, ...]:
    """What changes the picture: re-render only when this changes."""
    return tuple((t["id"], t["state"], t["attempts"], t["finished_at"] is None) for t in tasks)
