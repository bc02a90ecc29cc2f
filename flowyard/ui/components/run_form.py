"""A "Run" form whose fields come from the pipeline's typed inputs: numbers for NUMBER_*,
a switch for BOOLEAN, JSON for LIST/STRUCT, text otherwise; defaults filled in; a required
input left empty or a value of the wrong type is refused before anything is submitted."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nicegui import ui

from flowyard.services.errors import ApiError
from flowyard.ui.layout import tid


def input_definitions(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return (spec.get("root", {}).get("inputDefinitions", {}) or {}).get("parameters", {}) or {}


class RunForm:
    def __init__(self, spec: dict[str, Any], values: dict[str, Any] | None = None,
                 experiments: dict[str, str] | None = None, run_name: str = "") -> None:
        self.defs = input_definitions(spec)
        values = values or {}
        self.fields: dict[str, Any] = {}
        self.name = ui.input("Run name", value=run_name).classes("w-full").props(tid("run-name"))
        self.experiment = None
        if experiments is not None:
            self.experiment = ui.select(experiments, label="Experiment",
                                        value=next(iter(experiments), None)).classes("w-full")
        if not self.defs:
            ui.label("This pipeline takes no parameters.").classes("text-grey-7")
        for name, d in self.defs.items():
            kind = d.get("parameterType", "STRING")
            value = values.get(name, d.get("defaultValue"))
            label = f"{name} ({kind.lower().replace('number_', '')})"
            if kind == "BOOLEAN":
                field = ui.switch(label, value=bool(value))
            elif kind in ("NUMBER_INTEGER", "NUMBER_DOUBLE"):
                field = ui.number(label, value=value,
                                  precision=0 if kind == "NUMBER_INTEGER" else None,
                                  format="%d" if kind == "NUMBER_INTEGER" else None)
            elif kind in ("LIST", "STRUCT"):
                field = ui.textarea(label, value=json.dumps(value) if value is not None else "",
                                    validation={"not valid JSON": _valid_json}).props("autogrow")
            else:
                field = ui.input(label, value="" if value is None else str(value))
            if d.get("description"):
                field.tooltip(d["description"])
            self.fields[name] = field.classes("w-full").props(tid(f"param-{name}"))

    def values(self) -> dict[str, Any]:
        """The parameters as typed values; raises ValueError naming the bad field."""
        out: dict[str, Any] = {}
        for name, field in self.fields.items():
            d = self.defs[name]
            kind = d.get("parameterType", "STRING")
            raw = field.value
            if raw in (None, "") and kind != "STRING":
                if d.get("isOptional") or "defaultValue" in d:
                    continue
                raise ValueError(f"{name} is required")
            if kind == "NUMBER_INTEGER":
                if float(raw) != int(float(raw)):
                    raise ValueError(f"{name} must be a whole number")
                out[name] = int(float(raw))
            elif kind == "NUMBER_DOUBLE":
                out[name] = float(raw)
            elif kind == "BOOLEAN":
                out[name] = bool(raw)
            elif kind in ("LIST", "STRUCT"):
                parsed = json.loads(raw)
                want = list if kind == "LIST" else dict
                if not isinstance(parsed, want):
                    raise ValueError(f"{name} must be a JSON {'list' if want is list else 'object'}")
                out[name] = parsed
            else:
                if raw == "" and not (d.get("isOptional") or "defaultValue" in d):
                    raise ValueError(f"{name} is required")
                out[name] = raw
        return out


def _valid_json(text: str | None) -> bool:
    if not text:
        return True
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def open_run_dialog(spec: dict[str, Any], submit: Callable[[dict[str, Any], str, str | None], str],
                    values: dict[str, Any] | None = None, title: str = "Start a run",
                    experiments: dict[str, str] | None = None, run_name: str = "") -> None:
    """A dialog with the form; `submit(params, name, experiment_id)` returns the new run id,
    which the browser then opens."""
    with ui.dialog() as dialog, ui.card().classes("w-[32rem]"):
        ui.label(title).classes("text-h6")
        form = RunForm(spec, values, experiments, run_name)

        def start() -> None:
            try:
                params = form.values()
                run_id = submit(params, form.name.value or "",
                                form.experiment.value if form.experiment else None)
            except (ValueError, ApiError) as exc:
                ui.notify(f"Not started: {exc}", type="negative", multi_line=True)
                return
            dialog.close()
            ui.navigate.to(f"/runs/{run_id}")

        with ui.row().classes("justify-end w-full"):
            ui.button("Cancel", on_click=dialog.close).props("flat")
            ui.button("Start", icon="play_arrow", on_click=start).props(tid("start-run"))
    dialog.open()
