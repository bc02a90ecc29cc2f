"""Pipelines: list, upload (compiled YAML/JSON or a .py with a @dsl.pipeline), versions, a
graph preview of each version, and the Run form built from the version's typed inputs."""

from __future__ import annotations

from typing import Any

from nicegui import events, ui

from flowyard.services import experiments, pipelines, runs, uploads
from flowyard.services.errors import ApiError
from flowyard.ui import layout
from flowyard.ui.components.graph import RunGraph
from flowyard.ui.components.run_form import input_definitions, open_run_dialog
from flowyard.ui.layout import tid
from flowyard.ui.state import services

COLUMNS = [
    {"name": "name", "label": "Pipeline", "field": "name", "align": "left"},
    {"name": "description", "label": "Description", "field": "description", "align": "left"},
    {"name": "created", "label": "Created", "field": "created", "align": "left"},
]


# Quasar's own header reads "0.0B / 0.00%" before any file is chosen; this one says what to
# do, and shows size and progress only while there is a file.
UPLOAD_HEADER = r'''
<div class="row no-wrap items-center q-pa-sm q-gutter-xs" data-testid="upload-header">
  <q-spinner v-if="props.isUploading" class="q-uploader__spinner" />
  <div class="col column justify-center">
    <div class="q-uploader__title">Pipeline file</div>
    <div v-if="props.files.length" class="q-uploader__subtitle">
      {{ props.uploadSizeLabel }} · {{ props.uploadProgressLabel }}</div>
    <div v-else class="q-uploader__subtitle">Drop a file here or press +</div>
  </div>
  <q-btn v-if="props.canAddFiles" type="a" icon="add_box" round dense flat>
    <q-uploader-add-trigger />
  </q-btn>
</div>
'''


@ui.page("/pipelines")
def pipelines_page() -> None:
    svc = services()
    with layout.frame("Pipelines", "Pipelines"):
        with ui.card().classes("w-full"):
            ui.label("Upload a pipeline").classes("text-subtitle1")
            ui.label("A compiled pipeline (.yaml, .json, .zip, .tar.gz) or a Python file with a "
                     "@dsl.pipeline. A pipeline with the same name gets a new version.").classes(
                "text-caption text-grey-7")
            with ui.row().classes("items-end gap-3"):
                name = ui.input("Name (optional)").props("dense").props(tid("upload-name"))
                desc = ui.input("Description (optional)").props("dense")

                async def uploaded(e: events.UploadEventArguments) -> None:
                    data = await e.file.read()
                    try:
                        out = uploads.upload(svc, data, e.file.name, name.value or "",
                                             desc.value or "")
                    except ApiError as exc:
                        ui.notify(f"Upload failed: {exc.message}", type="negative",
                                  multi_line=True)
                        return
                    ui.notify(f"Uploaded {e.file.name}", type="positive")
                    ui.navigate.to(f"/pipelines/{out['pipeline_id']}")

                up = ui.upload(on_upload=uploaded, auto_upload=True, max_file_size=32 << 20,
                               label="Pipeline file").props(
                    "accept=.yaml,.yml,.json,.py,.zip,.gz").props(tid("upload"))
                up.add_slot("header", UPLOAD_HEADER)
        table = ui.table(columns=COLUMNS, rows=[], row_key="id").classes("w-full").props(
            "dense flat bordered").props(tid("pipelines-table"))
        table.add_slot("body-cell-name", layout.LINK_SLOT)

    def load() -> None:
        found = pipelines.list_(svc, page_size=1000, sort_by="created_at desc")
        rows = [{"id": p["pipeline_id"], "name": p["display_name"],
                 "href": f"/pipelines/{p['pipeline_id']}", "description": p.get("description", ""),
                 "created": (p.get("created_at") or "").replace("T", " ")[:19]}
                for p in found.get("pipelines", [])]
        if rows != table.rows:
            table.rows = rows
            table.update()

    load()
    ui.timer(2.0, load)


def experiment_choices(svc: Any) -> dict[str, str]:
    exps = experiments.list_(svc, page_size=1000, sort_by="created_at desc").get(
        "experiments", [])
    default = experiments.resolve(svc, None)  # "Default" exists once anyone asks for it
    names = {default.id: default.name}
    names.update({e["experiment_id"]: e["display_name"] for e in exps
                  if e.get("storage_state") != "ARCHIVED"})
    return names


def start_version_run(svc: Any, pipeline_id: str, version_id: str, params: dict[str, Any],
                      name: str, experiment_id: str | None) -> str:
    run = runs.create(svc, {"display_name": name, "experiment_id": experiment_id or "",
                            "pipeline_version_reference": {"pipeline_id": pipeline_id,
                                                           "pipeline_version_id": version_id},
                            "runtime_config": {"parameters": params}})
    return str(run["run_id"])


@ui.page("/pipelines/{pipeline_id}")
def pipeline_page(pipeline_id: str, version: str = "") -> None:
    svc = services()
    try:
        pipe = pipelines.get(svc, pipeline_id)
    except ApiError as exc:
        with layout.frame("Pipelines", "Pipelines"):
            ui.label(exc.message).classes("text-negative")
        return
    versions = pipelines.list_versions(svc, pipeline_id, page_size=1000,
                                       sort_by="created_at desc").get("pipeline_versions", [])
    by_id = {v["pipeline_version_id"]: v for v in versions}
    current = {"id": version if version in by_id else next(iter(by_id), "")}
    with layout.frame(pipe["display_name"], "Pipelines"):
        with ui.row().classes("items-center w-full gap-3"):
            ui.label(pipe["display_name"]).classes("text-h5")
            ui.label(pipe.get("description", "")).classes("text-grey-7")
            ui.space()
            pick = ui.select({k: v["display_name"] for k, v in by_id.items()}, label="Version",
                             value=current["id"] or None).classes("w-72").props(tid("version"))
            ui.button("Run", icon="play_arrow", on_click=lambda: run_dialog()).props(tid("run-button"))
            ui.button("Runs", icon="list", on_click=lambda: ui.navigate.to(
                f"/runs?pipeline={_pipeline_name(by_id.get(current['id']))}")).props("outline")
        with ui.row().classes("w-full no-wrap gap-4 items-start"):
            with ui.card().classes("grow"):
                ui.label("Graph").classes("text-subtitle1")
                graph = RunGraph()
            with ui.card().classes("w-96"):
                ui.label("Inputs").classes("text-subtitle1")
                inputs = ui.column().classes("gap-1")

    def show() -> None:
        ver = by_id.get(current["id"])
        if ver is None:
            return
        spec = _spec(ver)
        graph.signature = None
        graph.show(spec, [])
        inputs.clear()
        with inputs:
            for name, d in input_definitions(spec).items():
                default = d.get("defaultValue", "required")
                if d.get("parameterType") == "NUMBER_INTEGER" and isinstance(default, float):
                    default = int(default)  # the IR stores every number as a double
                ui.label(f"{name}: {d.get('parameterType', '').lower()} = {default}").classes(
                    "text-body2 font-mono")

    def picked() -> None:
        current["id"] = pick.value
        show()

    def run_dialog() -> None:
        ver = by_id.get(current["id"])
        if ver is None:
            ui.notify("This pipeline has no version to run", type="warning")
            return
        open_run_dialog(_spec(ver), lambda p, n, e: start_version_run(
            svc, pipeline_id, ver["pipeline_version_id"], p, n, e),
            title=f"Run {pipe['display_name']}", experiments=experiment_choices(svc))

    pick.on_value_change(picked)
    show()


def _spec(ver: dict[str, Any]) -> dict[str, Any]:
    spec = ver.get("pipeline_spec") or {}
    return spec.get("pipeline_spec", spec) if "pipeline_spec" in spec else spec


def _pipeline_name(ver: dict[str, Any] | None) -> str:
    return str(_spec(ver).get("pipelineInfo", {}).get("name", "")) if ver else ""

