"""A ParallelFor whose iterations each log a metric and write a Markdown report, and finish out
of order (iteration 1 first, then 0, then 2): what the compare view, the runs list's metric
columns, the artifacts list and the visualizations tab must keep apart and in order."""

from kfp import dsl
from kfp.dsl import Markdown, Metrics, Output

BASE = "python:3.11"
ITEMS = [{"acc": 0.72, "delay": 0.8}, {"acc": 0.80, "delay": 0.0}, {"acc": 0.65, "delay": 1.6}]


@dsl.component(base_image=BASE)
def score(acc: float, delay: float, metrics: Output[Metrics], report: Output[Markdown]) -> None:
    import time

    time.sleep(delay)
    metrics.log_metric("accuracy", acc)
    with open(report.path, "w") as f:
        f.write(f"## accuracy {acc}\n")


@dsl.pipeline(name="loop-metrics")
def loop_metrics(items: list = ITEMS) -> None:
    with dsl.ParallelFor(items) as item:
        score(acc=item.acc, delay=item.delay)
