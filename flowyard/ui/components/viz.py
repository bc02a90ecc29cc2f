"""Visualizations of KFP's artifact types: Metrics as a table, ClassificationMetrics as a
confusion-matrix heatmap and an ROC curve (ECharts, shipped with NiceGUI), Markdown
rendered (sanitised), HTML in a sandboxed frame, v1 `mlpipeline-ui-metadata` outputs, and a
bounded preview (text, CSV, JSON, images) with a download link for everything else."""

from __future__ import annotations

import html
from typing import Any

from nicegui import ui

from flowyard.file_guard import RefusedPath
from flowyard.services import artifacts_view
from flowyard.ui.downloads import download_url, raw_url
from flowyard.ui.layout import tid


def metrics_table(values: dict[str, Any]) -> None:
    rows = [{"metric": k, "value": _num(v)} for k, v in values.items()
            if not isinstance(v, dict | list)]
    ui.table(columns=[{"name": "metric", "label": "Metric", "field": "metric", "align": "left"},
                      {"name": "value", "label": "Value", "field": "value", "align": "right"}],
             rows=rows).props("dense flat bordered").classes("w-full").props(tid("metrics-table"))


def _num(v: Any) -> Any:
    return round(v, 6) if isinstance(v, float) else v


def confusion_matrix(labels: list[str], matrix: list[list[float]]) -> None:
    n = len(labels)
    data = [[j, i, matrix[i][j]] for i in range(n) for j in range(min(n, len(matrix[i])))]
    top = max((d[2] for d in data), default=1) or 1
    ui.echart({
        "animation": False,
        "title": {"text": "Confusion matrix", "left": "center", "textStyle": {"fontSize": 14}},
        "tooltip": {"position": "top"},
        "grid": {"left": 70, "right": 30, "top": 40, "bottom": 95},
        "xAxis": {"type": "category", "data": labels, "name": "predicted",
                  "nameLocation": "middle", "nameGap": 26, "splitArea": {"show": True}},
        "yAxis": {"type": "category", "data": labels, "name": "actual", "inverse": True,
                  "nameLocation": "middle", "nameGap": 40, "splitArea": {"show": True}},
        "visualMap": {"min": 0, "max": top, "calculable": True, "orient": "horizontal",
                      "left": "center", "bottom": 0, "itemHeight": 120,
                      "inRange": {"color": ["#f7fbff", "#6baed6", "#08306b"]}},
        "series": [{"type": "heatmap", "data": data, "label": {"show": n <= 12},
                    "emphasis": {"itemStyle": {"borderColor": "#333", "borderWidth": 1}}}],
    }).classes("w-full").style("height: 420px; max-width: 560px").props(tid("confusion-matrix"))


def roc_curve(points: list[tuple[float, float, Any]]) -> None:
    pts = sorted((float(f), float(t)) for f, t, _ in points)
    ui.echart({
        "animation": False,  # charts refresh with the page; drawing them twice is noise
        "title": {"text": "ROC curve", "left": "center", "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 50, "right": 20, "top": 40, "bottom": 40},
        "xAxis": {"type": "value", "min": 0, "max": 1, "name": "false positive rate",
                  "nameLocation": "middle", "nameGap": 25},
        "yAxis": {"type": "value", "min": 0, "max": 1, "name": "true positive rate",
                  "nameLocation": "middle", "nameGap": 32},
        "series": [{"type": "line", "data": pts, "showSymbol": False, "name": "ROC"},
                   {"type": "line", "data": [[0, 0], [1, 1]], "showSymbol": False,
                    "lineStyle": {"type": "dashed", "color": "#aaa"}, "name": "chance"}],
    }).classes("w-full").style("height: 360px; max-width: 480px").props(tid("roc-curve"))


def classification_metrics(meta: dict[str, Any]) -> None:
    cm = meta.get("confusionMatrix") or {}
    if cm.get("rows"):
        labels = [a.get("displayName", str(i)) for i, a in enumerate(cm.get("annotationSpecs", []))]
        confusion_matrix(labels, [r.get("row", []) for r in cm["rows"]])
    conf = meta.get("confidenceMetrics") or []
    if conf:
        roc_curve([(c.get("falsePositiveRate", 0), c.get("recall", 0),
                    c.get("confidenceThreshold")) for c in conf])
    if not cm.get("rows") and not conf:
        ui.label("No confusion matrix or ROC data recorded.").classes("text-grey-6")


def sandboxed_html(source: str, height: int = 400) -> None:
    # srcdoc + sandbox without allow-same-origin: the page runs in an opaque origin and can
    # neither read the dashboard nor act as it.
    ui.html(f'<iframe sandbox="allow-scripts" srcdoc="{html.escape(source, quote=True)}" '
            f'style="width:100%;height:{height}px;border:1px solid #ddd;border-radius:4px">'
            "</iframe>", sanitize=False).classes("w-full").props(tid("html-frame"))


def csv_table(rows: list[list[str]], header: list[str] | None = None) -> None:
    if not rows and not header:
        return
    header = header or rows[0]
    body = rows if header is not rows[0] else rows[1:]
    cols = [{"name": str(i), "label": h, "field": str(i), "align": "left"}
            for i, h in enumerate(header)]
    ui.table(columns=cols, rows=[{str(i): v for i, v in enumerate(r)} for r in body[:200]]
             ).props("dense flat bordered").classes("w-full")


def ui_metadata(outputs: list[dict[str, Any]]) -> None:
    """KFP v1's visualizations, as a component's `mlpipeline-ui-metadata` file lists them."""
    for out in outputs:
        kind, storage = out.get("type"), out.get("storage", "")
        source = str(out.get("source", ""))
        with ui.column().classes("w-full gap-1"):
            try:
                _one_output(out, kind, storage, source)
            except RefusedPath as exc:
                # A `source` outside the artifact root (`/etc/passwd`) is named, never read.
                ui.label(str(exc)).classes("text-negative text-caption").props(tid("refused"))


def _one_output(out: dict[str, Any], kind: Any, storage: str, source: str) -> None:
    if kind == "markdown":
        ui.markdown(artifacts_view.read_source(source, storage)).classes("fy-md")
    elif kind == "web-app":
        sandboxed_html(artifacts_view.read_source(source, storage))
    elif kind == "table":
        rows = artifacts_view.parse_csv(artifacts_view.read_source(source, storage))
        csv_table(rows, out.get("header"))
    elif kind == "confusion_matrix":
        rows = artifacts_view.parse_csv(artifacts_view.read_source(source, storage))
        labels = [str(x) for x in out.get("labels") or sorted(
            {r[0] for r in rows} | {r[1] for r in rows})]
        index = {lab: i for i, lab in enumerate(labels)}
        matrix = [[0.0] * len(labels) for _ in labels]
        for r in rows:
            if len(r) >= 3 and r[0] in index and r[1] in index:
                matrix[index[r[0]]][index[r[1]]] += float(r[2])
        confusion_matrix(labels, matrix)
    elif kind == "roc":
        rows = artifacts_view.parse_csv(artifacts_view.read_source(source, storage))
        roc_curve([(r[0], r[1], r[2] if len(r) > 2 else None) for r in rows
                   if len(r) >= 2 and _is_float(r[0])])
    elif kind == "tensorboard":
        ui.label(f"TensorBoard logs: {source}").classes("font-mono text-body2")
    else:
        ui.label(f"Unknown visualization type {kind!r}").classes("text-grey-6")


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def is_visualization(art: dict[str, Any]) -> bool:
    """What the run's Visualizations tab collects (KFP's types plus v1 ui-metadata)."""
    return art["type"] in ("system.Metrics", "system.ClassificationMetrics",
                           "system.SlicedClassificationMetrics", "system.Markdown",
                           "system.HTML") or "ui-metadata" in art["name"].replace("_", "-")


def artifact_view(art: dict[str, Any]) -> None:
    """One artifact: its header, the visualization for its type, preview and download."""
    with ui.row().classes("items-center gap-2"):
        ui.label(art["name"]).classes("text-subtitle1 font-medium")
        ui.badge(art["type"], color="blue-grey-4")
        ui.link("details", f"/artifacts/{art['id']}").classes("text-caption")
        ui.link("download", download_url(art["id"])).classes("text-caption").props(
            tid("download-" + art["name"]))
    ui.label(art["uri"]).classes("text-caption text-grey-7 font-mono")
    kind, meta = art["type"], art.get("metadata") or {}
    if kind == "system.Metrics":
        metrics_table(meta)
        return
    if kind == "system.ClassificationMetrics":
        classification_metrics(meta)
        return
    if kind == "system.SlicedClassificationMetrics":
        for name, sliced in meta.items():
            if isinstance(sliced, dict):
                ui.label(f"slice {name}")
                classification_metrics(sliced)
        return
    p = artifacts_view.preview(art["uri"], kind, art["name"])
    if p["kind"] == "missing":
        content_preview(art, p)
    elif kind == "system.Markdown":
        ui.markdown(p.get("text", "")).classes("w-full fy-md").props(tid("markdown-view"))
    elif kind == "system.HTML":
        sandboxed_html(p.get("text", ""), 300)
    elif p.get("ui_metadata"):
        ui_metadata(p["ui_metadata"])
    else:
        content_preview(art, p)
    if meta:
        ui.label("metadata").classes("text-caption text-grey-7")
        ui.code(_json(meta), language="json").classes("w-full text-xs")


def content_preview(art: dict[str, Any], p: dict[str, Any]) -> None:
    if p["kind"] == "image":
        # A plain <img>: QImg needs a fixed ratio and shows a spinner for tiny images.
        img = ui.element("img").props(f'src="{raw_url(art["id"])}" alt="{art["name"]}"')
        img.style("width: auto; height: auto; max-width: 32rem; min-width: 64px; "
                  "align-self: flex-start; image-rendering: pixelated").props(tid("image-preview"))
    elif p["kind"] == "csv":
        csv_table(p["rows"])
    elif p["kind"] == "json":
        ui.code(_json(p["json"])[:20000], language="json").classes("w-full text-xs")
    elif p["kind"] == "text":
        ui.code(p["text"][:20000]).classes("w-full text-xs").props(tid("text-preview"))
    elif p["kind"] == "refused":
        ui.label(p["reason"]).classes("text-negative text-caption").props(tid("refused"))
    elif p["kind"] == "binary":
        ui.label(f"binary content ({p['size']}{'+' if p['truncated'] else ''} bytes)").classes(
            "text-grey-6 text-caption")
    else:
        ui.label("no content stored at this URI").classes("text-grey-6 text-caption")
    if p.get("truncated"):
        ui.label("preview truncated; download for the whole file").classes(
            "text-caption text-grey-6")


def _json(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, default=str)
