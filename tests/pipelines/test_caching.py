"""Caching: a task with the same component and resolved inputs is reused across runs (state
CACHED, the component does not execute), a change of input is a miss, and both
`set_caching_options(False)` and `enable_caching=False` force execution. Each component
appends to a counter file outside the artifact root, so "did it execute" is a line count."""

from pathlib import Path

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

import flowyard
from flowyard.store import open_store


@dsl.component
def bump(counter: str, x: int) -> int:
    with open(counter, "a") as f:
        f.write("ran\n")
    return x * 2


@dsl.component
def produce(counter: str, text: str, out: Output[Dataset]) -> None:
    with open(counter, "a") as f:
        f.write("ran\n")
    with open(out.path, "w") as f:
        f.write(text)
    out.metadata["length"] = len(text)


@dsl.component
def consume(counter: str, ds: Input[Dataset]) -> str:
    with open(counter, "a") as f:
        f.write("ran\n")
    with open(ds.path) as f:
        return f.read().upper()


@dsl.container_component
def shell_bump(counter: str, out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine:3", command=["sh", "-c"],
                             args=[dsl.ConcatPlaceholder(["echo ran >> ", counter,
                                                          "; echo done > ", out])])


@dsl.pipeline
def bump_pipeline(counter: str, x: int = 1) -> int:
    return bump(counter=counter, x=x).output


def runs_of(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def test_cache_hit_across_runs(tmp_path: Path) -> None:
    counter = tmp_path / "bump.txt"
    first = flowyard.run(bump_pipeline, arguments={"counter": str(counter), "x": 5})
    assert first.state == "SUCCEEDED", first.error
    assert first.task("bump").state == "SUCCEEDED"

    second = flowyard.run(bump_pipeline, arguments={"counter": str(counter), "x": 5})
    assert second.state == "SUCCEEDED", second.error
    task = second.task("bump")
    assert task.state == "CACHED"
    assert task.cached_from == first.task("bump").id
    assert second.outputs == {"Output": 10}
    assert runs_of(counter) == 1  # the second run never executed the component


def test_cache_miss_when_inputs_change(tmp_path: Path) -> None:
    counter = tmp_path / "bump.txt"
    assert flowyard.run(bump_pipeline, arguments={"counter": str(counter), "x": 1}).state == "SUCCEEDED"
    changed = flowyard.run(bump_pipeline, arguments={"counter": str(counter), "x": 2})
    assert changed.task("bump").state == "SUCCEEDED"
    assert changed.outputs == {"Output": 4}
    assert runs_of(counter) == 2


def test_set_caching_options_false_is_honoured(tmp_path: Path) -> None:
    counter = tmp_path / "bump.txt"

    @dsl.pipeline
    def uncached(counter: str):
        bump(counter=counter, x=1).set_caching_options(False)

    for _ in range(2):
        run = flowyard.run(uncached, arguments={"counter": str(counter)})
        assert run.task("bump").state == "SUCCEEDED"
    assert runs_of(counter) == 2


def test_enable_caching_false_for_the_run(tmp_path: Path) -> None:
    counter = tmp_path / "bump.txt"
    args = {"counter": str(counter), "x": 3}
    flowyard.run(bump_pipeline, arguments=args)
    run = flowyard.run(bump_pipeline, arguments=args, enable_caching=False)
    assert run.task("bump").state == "SUCCEEDED"
    assert runs_of(counter) == 2
    # ...and a run that does allow caching still hits.
    assert flowyard.run(bump_pipeline, arguments=args).task("bump").state == "CACHED"
    assert runs_of(counter) == 2


def test_cached_artifacts_flow_downstream(tmp_path: Path) -> None:
    p_counter, c_counter = tmp_path / "produce.txt", tmp_path / "consume.txt"

    @dsl.pipeline
    def chain(pc: str, cc: str, text: str) -> str:
        ds = produce(counter=pc, text=text)
        return consume(counter=cc, ds=ds.outputs["out"]).output

    args = {"pc": str(p_counter), "cc": str(c_counter), "text": "abc"}
    first = flowyard.run(chain, arguments=args)
    second = flowyard.run(chain, arguments=args)
    assert [second.task(n).state for n in ("produce", "consume")] == ["CACHED", "CACHED"]
    assert second.outputs == first.outputs == {"Output": "ABC"}
    art = second.task("produce").outputs["artifacts"]["out"][0]
    assert art["uri"] == first.task("produce").outputs["artifacts"]["out"][0]["uri"]
    assert art["metadata"] == {"length": 3}
    assert (runs_of(p_counter), runs_of(c_counter)) == (1, 1)
    # The cached task's artifacts are recorded for the second run as well.
    stored = [a for a in open_store().artifacts(second.id) if a.name == "out"]
    assert [a.uri for a in stored] == [art["uri"]]

    # A different upstream input changes the artifact, so the consumer misses too.
    third = flowyard.run(chain, arguments={**args, "text": "xyz"})
    assert third.outputs == {"Output": "XYZ"}
    assert (runs_of(p_counter), runs_of(c_counter)) == (2, 2)


def test_cache_entry_with_a_deleted_artifact_is_not_used(tmp_path: Path) -> None:
    counter = tmp_path / "produce.txt"

    @dsl.pipeline
    def only_produce(c: str):
        produce(counter=c, text="t")

    first = flowyard.run(only_produce, arguments={"c": str(counter)})
    Path(first.task("produce").outputs["artifacts"]["out"][0]["uri"]).unlink()
    second = flowyard.run(only_produce, arguments={"c": str(counter)})
    assert second.task("produce").state == "SUCCEEDED"
    assert runs_of(counter) == 2


def test_container_components_are_cached(tmp_path: Path) -> None:
    counter = tmp_path / "shell.txt"

    @dsl.pipeline
    def shell(c: str):
        shell_bump(counter=c)

    states = [flowyard.run(shell, arguments={"c": str(counter)}).task("shell-bump").state
              for _ in range(2)]
    assert states == ["SUCCEEDED", "CACHED"]
    assert runs_of(counter) == 1


def test_failed_tasks_are_never_cache_hits(tmp_path: Path) -> None:
    flag = tmp_path / "fail-now"
    flag.touch()

    @dsl.component
    def maybe_fail(flag: str) -> str:
        import os

        if os.path.exists(flag):
            raise RuntimeError("flag present")
        return "ok"

    @dsl.pipeline
    def p(flag: str):
        maybe_fail(flag=flag)

    assert flowyard.run(p, arguments={"flag": str(flag)}).state == "FAILED"
    flag.unlink()
    run = flowyard.run(p, arguments={"flag": str(flag)})
    assert run.state == "SUCCEEDED"
    assert run.task("maybe-fail").state == "SUCCEEDED"


@dsl.component
def evaluate(counter: str, metrics: Output[Metrics]) -> float:
    with open(counter, "a") as f:
        f.write("ran\n")
    metrics.log_metric("accuracy", 0.8)
    return 0.8


def test_tasks_that_log_metrics_are_cached(tmp_path: Path) -> None:
    """kfp writes no file for a Metrics artifact (it is all metadata), which must not make
    every training step a cache miss."""
    counter = tmp_path / "evaluate.txt"

    @dsl.pipeline
    def p(c: str) -> float:
        return evaluate(counter=c).outputs["Output"]

    first = flowyard.run(p, arguments={"c": str(counter)})
    second = flowyard.run(p, arguments={"c": str(counter)})
    assert second.task("evaluate").state == "CACHED"
    assert second.outputs == first.outputs == {"Output": 0.8}
    assert runs_of(counter) == 1
    assert [(m.key, m.value) for m in open_store().metrics(second.id)] == [("accuracy", 0.8)]
