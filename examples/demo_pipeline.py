"""The end-to-end demo: the shape of the seeds' pipelines (prepare data, train a few
candidates in parallel, evaluate with metrics and visualizations, deploy the best if it is
good enough, and always report) on scikit-learn's bundled digits, so it runs offline in
seconds. Plain KFP: the same file compiles and runs on a real Kubeflow.

    flowyard run examples/demo_pipeline.py -p min_accuracy=0.9
"""

from kfp import dsl
from kfp.dsl import (
    ClassificationMetrics,
    Dataset,
    Input,
    Markdown,
    Metrics,
    Model,
    Output,
    PipelineTaskFinalStatus,
)

BASE = "python:3.11"


@dsl.component(base_image=BASE, packages_to_install=["scikit-learn"])
def prepare_data(test_fraction: float, train: Output[Dataset], test: Output[Dataset]) -> int:
    """Load the digits and split them; returns the number of training rows."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=0,
                                              stratify=y)
    np.savez(train.path + ".npz", x=x_tr, y=y_tr)
    np.savez(test.path + ".npz", x=x_te, y=y_te)
    train.metadata["rows"] = len(y_tr)
    test.metadata["rows"] = len(y_te)
    return len(y_tr)


@dsl.component(base_image=BASE, packages_to_install=["scikit-learn"])
def train_model(train: Input[Dataset], c: float, model: Output[Model]) -> str:
    """Fit a logistic regression with regularisation strength C."""
    import pickle

    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = np.load(train.path + ".npz")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    clf.fit(data["x"], data["y"])
    with open(model.path, "wb") as f:
        pickle.dump(clf, f)
    model.metadata["C"] = c
    model.metadata["framework"] = "scikit-learn"
    return model.uri


@dsl.component(base_image=BASE, packages_to_install=["scikit-learn"])
def evaluate(test: Input[Dataset], models: Input[list[Model]], metrics: Output[Metrics],
             confusion: Output[ClassificationMetrics], report: Output[Markdown],
             best: Output[Model]) -> float:
    """Score every candidate; keep the best, with its metrics and confusion matrix."""
    import pickle
    import shutil

    import numpy as np
    from sklearn.metrics import accuracy_score, confusion_matrix

    data = np.load(test.path + ".npz")
    scored = []
    for m in models:
        with open(m.path, "rb") as f:
            clf = pickle.load(f)
        scored.append((accuracy_score(data["y"], clf.predict(data["x"])), m, clf))
    acc, winner, clf = max(scored, key=lambda s: s[0])
    shutil.copyfile(winner.path, best.path)
    best.metadata.update(winner.metadata)
    best.metadata["accuracy"] = acc
    metrics.log_metric("accuracy", acc)
    metrics.log_metric("candidates", len(scored))
    labels = [str(i) for i in range(10)]
    matrix = confusion_matrix(data["y"], clf.predict(data["x"])).tolist()
    confusion.log_confusion_matrix(labels, matrix)
    rows = "\n".join(f"| {m.metadata.get('C')} | {a:.4f} |" for a, m, _ in scored)
    with open(report.path, "w") as f:
        f.write(f"# Candidates\n\n| C | accuracy |\n|---|---|\n{rows}\n\n"
                f"Best: C={winner.metadata.get('C')} with accuracy {acc:.4f}\n")
    return acc


@dsl.component(base_image=BASE)
def deploy(model: Input[Model], accuracy: float) -> str:
    """Stand-in for the serving step: records where the approved model lives."""
    print(f"deploying {model.uri} (accuracy {accuracy:.4f})")
    return f"approved:{model.uri}"


@dsl.component(base_image=BASE)
def notify(status: PipelineTaskFinalStatus, pipeline: str) -> str:
    """Runs whatever happened above, like an on-exit hook."""
    message = f"{pipeline}: {status.pipeline_task_name} ended {status.state}"
    if status.error_message:
        message += f" ({status.error_message})"
    print(message)
    return message


@dsl.pipeline(name="digits-demo", description="Prepare, tune, evaluate and deploy a digits model")
def digits_demo(test_fraction: float = 0.25, min_accuracy: float = 0.9):
    report = notify(pipeline="digits-demo")
    with dsl.ExitHandler(report):
        data = prepare_data(test_fraction=test_fraction)
        with dsl.ParallelFor([0.01, 0.1, 1.0], parallelism=3) as c:
            trained = train_model(train=data.outputs["train"], c=c)
        scores = evaluate(test=data.outputs["test"],
                          models=dsl.Collected(trained.outputs["model"]))
        with dsl.If(scores.outputs["Output"] >= min_accuracy):
            deploy(model=scores.outputs["best"], accuracy=scores.outputs["Output"])
