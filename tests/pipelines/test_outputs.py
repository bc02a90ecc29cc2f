"""Outputs: NamedTuple outputs of components (parameters and artifacts) consumed downstream,
and pipeline outputs (a single return value, a NamedTuple of parameters and artifacts)."""

from pathlib import Path
from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Model, Output

import flowyard


@dsl.component
def stats(values: list) -> NamedTuple("Stats", [("total", int), ("mean", float),
                                                ("label", str)]):
    from collections import namedtuple

    out = namedtuple("Stats", ["total", "mean", "label"])
    return out(sum(values), sum(values) / len(values), f"n={len(values)}")


@dsl.component
def fmt(total: int, mean: float, label: str) -> str:
    return f"{label}: total={total} mean={mean}"


def test_named_tuple_outputs_flow_downstream() -> None:
    @dsl.pipeline
    def p(values: list = [1, 2, 3, 6]) -> str:  # noqa: B006
        s = stats(values=values)
        return fmt(total=s.outputs["total"], mean=s.outputs["mean"],
                   label=s.outputs["label"]).output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.task("stats").outputs["parameters"] == {"total": 12, "mean": 3.0, "label": "n=4"}
    assert run.outputs == {"Output": "n=4: total=12 mean=3.0"}


@dsl.component
def train(rows: int, model: Output[Model]) -> NamedTuple("Trained", [("score", float),
                                                                      ("note", str)]):
    from collections import namedtuple

    with open(model.path, "w") as f:
        f.write(f"model trained on {rows} rows")
    model.metadata["rows"] = rows
    return namedtuple("Trained", ["score", "note"])(rows / 10, "fine")


@dsl.component
def split(data: Output[Dataset]) -> int:
    with open(data.path, "w") as f:
        f.write("1\n2\n3\n")
    data.metadata["rows"] = 3
    return 3


class Result(NamedTuple):
    score: float
    note: str
    model: Model
    data: Dataset


def test_pipeline_named_tuple_outputs_parameters_and_artifacts() -> None:
    @dsl.pipeline
    def p() -> Result:
        s = split()
        t = train(rows=s.outputs["Output"])
        return Result(score=t.outputs["score"], note=t.outputs["note"],
                      model=t.outputs["model"], data=s.outputs["data"])

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert set(run.outputs) == {"score", "note", "model", "data"}
    assert run.outputs["score"] == 0.3
    assert run.outputs["note"] == "fine"
    model = run.outputs["model"]
    assert model["type"] == "system.Model"
    assert model["metadata"] == {"rows": 3}
    assert Path(model["uri"]).read_text() == "model trained on 3 rows"
    data = run.outputs["data"]
    assert data["type"] == "system.Dataset"
    assert Path(data["uri"]).read_text() == "1\n2\n3\n"


def test_single_artifact_pipeline_output() -> None:
    @dsl.pipeline
    def p() -> Dataset:
        return split().outputs["data"]

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert set(run.outputs) == {"Output"}
    assert run.outputs["Output"]["metadata"] == {"rows": 3}
    assert run.outputs["Output"]["uri"] == run.task("split").outputs["artifacts"]["data"][0]["uri"]


@dsl.component
def inner_double(x: int) -> int:
    return 2 * x


@dsl.pipeline
def inner(x: int) -> int:
    return inner_double(x=x).output


def test_outputs_of_a_nested_pipeline() -> None:
    @dsl.pipeline
    def outer(x: int = 4) -> int:
        return inner_double(x=inner(x=x).output).output

    run = flowyard.run(outer)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs == {"Output": 16}


def test_pipeline_without_outputs_has_empty_outputs() -> None:
    @dsl.pipeline
    def p():
        inner_double(x=1)

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs == {}
    assert run.task("inner-double").outputs["parameters"] == {"Output": 2}
