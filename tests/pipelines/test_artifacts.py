"""Artifacts with metadata, of every type the KFP SDK offers: Artifact, Dataset, Model,
Metrics (scalar metrics also land in the store's metrics table), ClassificationMetrics, HTML
and Markdown; written by Python and container components and read back downstream."""

import json
from pathlib import Path

from kfp import dsl
from kfp.dsl import (
    HTML,
    Artifact,
    ClassificationMetrics,
    Dataset,
    Input,
    Markdown,
    Metrics,
    Model,
    Output,
)

import flowyard
from flowyard.store import open_store


@dsl.component
def make_all(dataset: Output[Dataset], model: Output[Model], metrics: Output[Metrics],
             cls: Output[ClassificationMetrics], html: Output[HTML], md: Output[Markdown],
             blob: Output[Artifact]) -> None:
    import os

    with open(dataset.path, "w") as f:
        f.write("x,y\n1,2\n3,4\n")
    dataset.metadata["rows"] = 2

    os.makedirs(model.path)
    with open(os.path.join(model.path, "weights.txt"), "w") as f:
        f.write("w=1")
    model.framework = "sklearn"
    model.metadata["version"] = "1.2"

    metrics.log_metric("accuracy", 0.93)
    metrics.log_metric("loss", 0.25)
    metrics.log_metric("epochs", 5)

    cls.log_confusion_matrix(["cat", "dog"], [[8, 2], [1, 9]])
    cls.log_roc_curve(fpr=[0.0, 0.5, 1.0], tpr=[0.0, 0.8, 1.0], threshold=[1.0, 0.5, 0.0])

    with open(html.path, "w") as f:
        f.write("<h1>report</h1>")
    with open(md.path, "w") as f:
        f.write("# Notes\n")
    with open(blob.path, "wb") as f:
        f.write(b"\x00\x01")
    blob.metadata["kind"] = "binary"


@dsl.component
def use_all(dataset: Input[Dataset], model: Input[Model], metrics: Input[Metrics],
            html: Input[HTML]) -> str:
    import json
    import os

    with open(dataset.path) as f:
        rows = len(f.read().splitlines()) - 1
    with open(os.path.join(model.path, "weights.txt")) as f:
        weights = f.read()
    with open(html.path) as f:
        heading = f.read()
    return json.dumps({"rows": rows, "rows_meta": dataset.metadata["rows"], "weights": weights,
                       "framework": model.metadata["framework"],
                       "accuracy": metrics.metadata["accuracy"], "html": heading})


@dsl.pipeline
def every_type() -> str:
    made = make_all()
    return use_all(dataset=made.outputs["dataset"], model=made.outputs["model"],
                   metrics=made.outputs["metrics"], html=made.outputs["html"]).output


def test_every_artifact_type_with_metadata() -> None:
    run = flowyard.run(every_type)
    assert run.state == "SUCCEEDED", run.error
    store = open_store()
    arts = {a.name: a for a in store.artifacts(run.id) if a.task_id == run.task("make-all").id}
    assert {n: a.schema_title for n, a in arts.items()} == {
        "dataset": "system.Dataset", "model": "system.Model", "metrics": "system.Metrics",
        "cls": "system.ClassificationMetrics", "html": "system.HTML", "md": "system.Markdown",
        "blob": "system.Artifact"}
    assert arts["dataset"].metadata_ == {"rows": 2}
    assert arts["model"].metadata_ == {"framework": "sklearn", "version": "1.2"}
    assert arts["metrics"].metadata_ == {"accuracy": 0.93, "loss": 0.25, "epochs": 5}
    assert arts["blob"].metadata_ == {"kind": "binary"}

    cls = arts["cls"].metadata_
    assert cls["confusionMatrix"]["annotationSpecs"] == [{"displayName": "cat"},
                                                         {"displayName": "dog"}]
    assert cls["confusionMatrix"]["rows"] == [{"row": [8, 2]}, {"row": [1, 9]}]
    roc = cls["confidenceMetrics"]
    assert [p["recall"] for p in roc] == [0.0, 0.8, 1.0]
    assert [p["falsePositiveRate"] for p in roc] == [0.0, 0.5, 1.0]

    # Files are in the artifact store, where the stored URIs say.
    assert Path(arts["dataset"].uri).read_text() == "x,y\n1,2\n3,4\n"
    assert (Path(arts["model"].uri) / "weights.txt").read_text() == "w=1"
    assert Path(arts["html"].uri).read_text() == "<h1>report</h1>"
    assert Path(arts["md"].uri).read_text() == "# Notes\n"
    assert Path(arts["blob"].uri).read_bytes() == b"\x00\x01"

    # The metrics table holds every scalar of the Metrics artifact, and nothing else.
    metrics = {(m.key, m.value) for m in store.metrics(run.id)}
    assert metrics == {("accuracy", 0.93), ("loss", 0.25), ("epochs", 5.0)}
    assert {m.artifact_id for m in store.metrics(run.id)} == {arts["metrics"].id}

    # Downstream sees the same files and metadata.
    got = json.loads(run.outputs["Output"])
    assert got == {"rows": 2, "rows_meta": 2, "weights": "w=1", "framework": "sklearn",
                   "accuracy": 0.93, "html": "<h1>report</h1>"}

    # Task outputs carry the artifact with its type, URI and metadata.
    out = run.task("make-all").outputs["artifacts"]["metrics"][0]
    assert out["type"]["schemaTitle"] == "system.Metrics"
    assert out["uri"] == arts["metrics"].uri
    assert out["metadata"] == arts["metrics"].metadata_


@dsl.container_component
def shell_artifacts(text: str, data: Output[Dataset], page: Output[Markdown]):
    return dsl.ContainerSpec(
        image="alpine:3",
        command=["sh", "-c", 'echo "$0" > "$1"; printf "# %s\\n" "$0" > "$2"'],
        args=[text, data.path, page.path],
    )


@dsl.container_component
def shell_reader(data: Input[Dataset], out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine:3", command=["sh", "-c", 'tr a-z A-Z < "$0" > "$1"'],
                             args=[data.path, out])


def test_container_components_write_and_read_artifacts() -> None:
    @dsl.pipeline
    def p() -> str:
        made = shell_artifacts(text="quiet words")
        return shell_reader(data=made.outputs["data"]).output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs == {"Output": "QUIET WORDS\n"}
    page = run.task("shell-artifacts").outputs["artifacts"]["page"][0]
    assert page["type"]["schemaTitle"] == "system.Markdown"
    assert Path(page["uri"]).read_text() == "# quiet words\n"


@dsl.component
def metric_only(value: float, metrics: Output[Metrics]) -> None:
    metrics.log_metric("score", value)


def test_metrics_table_per_run() -> None:
    @dsl.pipeline
    def p(v: float):
        metric_only(value=v).set_caching_options(False).set_display_name("a")
        metric_only(value=v).set_caching_options(False).set_display_name("b")

    first = flowyard.run(p, arguments={"v": 0.5})
    second = flowyard.run(p, arguments={"v": 0.75})
    store = open_store()
    assert sorted(m.value for m in store.metrics(first.id)) == [0.5, 0.5]
    assert sorted(m.value for m in store.metrics(second.id)) == [0.75, 0.75]
    tasks = {m.task_id for m in store.metrics(first.id)}
    assert tasks == {first.task("a").id, first.task("b").id}


def test_artifacts_live_under_the_artifact_root(fy_home: Path) -> None:
    run = flowyard.run(every_type)
    root = (fy_home / "artifacts").resolve()
    for art in open_store().artifacts(run.id):
        assert Path(art.uri).resolve().is_relative_to(root / run.id)
