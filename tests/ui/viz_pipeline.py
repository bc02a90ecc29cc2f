"""A small pipeline that exercises every dashboard view: a slow step with a streaming log,
a loop and a condition, Metrics, ClassificationMetrics (confusion matrix and ROC), Markdown,
HTML, a CSV dataset, a PNG image and a v1 mlpipeline-ui-metadata file. No third-party
libraries, so it runs in a second or two."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Input, Markdown, Metrics, Output

BASE = "python:3.11"


@dsl.component(base_image=BASE)
def prepare(rows: int, delay: float, data: Output[Dataset]) -> int:
    import time

    # One line far wider than the log pane: it must wrap, not scroll sideways.
    print("wide line " + "0123456789abcdef" * 40 + " end-of-wide-line", flush=True)
    for i in range(3):
        print(f"preparing chunk {i}", flush=True)
        time.sleep(delay)
    with open(data.path, "w") as f:
        f.write("x,y\n" + "\n".join(f"{i},{i * i}" for i in range(rows)) + "\n")
    return rows


@dsl.component(base_image=BASE)
def train(data: Input[Dataset], lr: float) -> float:
    print(f"training with lr={lr} on {data.path}")
    return 0.8 + lr


@dsl.component(base_image=BASE)
def evaluate(score: float, metrics: Output[Metrics], cm: Output[ClassificationMetrics],
             report: Output[Markdown], page: Output[HTML], plot: Output[Artifact],
             mlpipeline_ui_metadata: Output[Artifact]) -> float:
    import base64
    import json

    metrics.log_metric("accuracy", score)
    metrics.log_metric("loss", 1 - score)
    cm.log_confusion_matrix(["cat", "dog", "bird"], [[8, 1, 1], [2, 7, 1], [0, 1, 9]])
    cm.log_roc_curve([0.0, 0.1, 0.3, 1.0], [0.0, 0.6, 0.9, 1.0], [1.0, 0.7, 0.4, 0.0])
    with open(report.path, "w") as f:
        f.write(f"# Evaluation\n\n| metric | value |\n|---|---|\n| accuracy | {score:.3f} |\n")
    with open(page.path, "w") as f:
        f.write("<h2 id='hello'>Hello from an HTML artifact</h2><p>score " + str(score) + "</p>")
    png = ("iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAHUlEQVR4nGNk+M9AEmAiTfmoh"
           "lENoxpGNQwdDQBVbgEfT3ECpAAAAABJRU5ErkJggg==")
    with open(plot.path, "wb") as f:
        f.write(base64.b64decode(png))
    with open(mlpipeline_ui_metadata.path, "w") as f:
        json.dump({"outputs": [
            {"type": "markdown", "storage": "inline", "source": "## v1 markdown output"},
            {"type": "table", "storage": "inline", "format": "csv", "header": ["a", "b"],
             "source": "1,2\n3,4"},
            {"type": "roc", "storage": "inline", "format": "csv",
             "source": "0.0,0.0,1.0\n0.2,0.7,0.5\n1.0,1.0,0.0"},
        ]}, f)
    print("evaluated", score)
    return score


@dsl.component(base_image=BASE)
def publish(score: float) -> str:
    print(f"publishing {score}")
    return "ok"


@dsl.pipeline(name="viz-demo")
def viz_demo(rows: int = 5, delay: float = 0.5, threshold: float = 0.5):
    data = prepare(rows=rows, delay=delay)
    with dsl.ParallelFor([0.01, 0.1]) as lr:
        train(data=data.outputs["data"], lr=lr)
    ev = evaluate(score=0.9)
    ev.after(data)
    with dsl.If(ev.outputs["Output"] > threshold):
        publish(score=ev.outputs["Output"])
