"""Control flow as the KFP IR encodes it: ParallelFor (raw, parameter, task-output and struct
lists, parallelism limits, nesting), Collected, If/Elif/Else, OneOf, ExitHandler with
PipelineTaskFinalStatus, ignore_upstream_failure, skipping downstream of a failure, and all of
it inside nested pipelines."""

import itertools
from pathlib import Path
from typing import List, NamedTuple  # noqa: UP035 (kfp reads typing.List annotations)

import pytest
from kfp import dsl
from kfp.dsl import Dataset, Input, Output

import flowyard
from flowyard.pipelines.runner import Run, TaskView

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


# components ------------------------------------------------------------------------------
@dsl.component
def square(x: int) -> int:
    return x * x


@dsl.component
def total(xs: list) -> int:
    return sum(xs)


@dsl.component
def make_list(n: int) -> list:
    return list(range(1, n + 1))


@dsl.component
def echo(text: str) -> str:
    print("echo:", text)
    return text


@dsl.component
def describe(a: int, b: str) -> str:
    return f"{b}={a}"


@dsl.component
def nap_square(x: int) -> int:
    import time

    time.sleep(0.3)
    return x * x


@dsl.component
def mul(a: int, b: int) -> int:
    return a * b


@dsl.component
def write_dataset(x: int, out: Output[Dataset]) -> None:
    with open(out.path, "w") as f:
        f.write(f"row-{x}\n")


@dsl.component
def concat(parts: Input[List[Dataset]]) -> str:  # noqa: UP006 (kfp needs typing.List)
    texts = []
    for p in parts:
        with open(p.path) as f:
            texts.append(f.read().strip())
    return ",".join(sorted(texts))


@dsl.component
def read_dataset(ds: Input[Dataset]) -> str:
    with open(ds.path) as f:
        return f.read().strip()


@dsl.component
def boom(message: str) -> str:
    raise RuntimeError(message)


@dsl.component
def touch(path: str) -> str:
    with open(path, "w") as f:
        f.write("ran")
    return "ran"


@dsl.component
def report(status: dsl.PipelineTaskFinalStatus) -> str:
    return f"{status.state}|{status.error_message}|{status.pipeline_task_name}"


@dsl.component
def const(v: int) -> int:
    return v


@dsl.component
def double(x: int) -> int:
    return 2 * x


# helpers ---------------------------------------------------------------------------------
def output(task: TaskView, key: str = "Output") -> object:
    return task.outputs["parameters"][key]


def leaves(run: Run, name: str) -> list[TaskView]:
    """Every execution of the task called `name` (one per loop iteration), in path order."""
    return sorted((t for t in run.tasks if t.name == name and t.kind == "container"),
                  key=lambda t: t.path)


# ParallelFor -----------------------------------------------------------------------------
def test_parallel_for_raw_list_collected() -> None:
    @dsl.pipeline
    def p() -> int:
        with dsl.ParallelFor([1, 2, 3]) as item:
            sq = square(x=item)
        return total(xs=dsl.Collected(sq.output)).output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == 14
    assert sorted(output(t) for t in leaves(run, "square")) == [1, 4, 9]
    iterations = [t for t in run.tasks if t.kind == "iteration"]
    assert len(iterations) == 3 and {t.state for t in iterations} == {"SUCCEEDED"}
    loop = next(t for t in run.tasks if t.kind == "loop")
    assert loop.state == "SUCCEEDED"


def test_parallel_for_pipeline_parameter_list() -> None:
    @dsl.pipeline
    def p(items: list) -> int:
        with dsl.ParallelFor(items) as item:
            sq = square(x=item)
        return total(xs=dsl.Collected(sq.output)).output

    run = flowyard.run(p, arguments={"items": [2, 3, 4, 5]})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == 4 + 9 + 16 + 25
    assert len(leaves(run, "square")) == 4


def test_parallel_for_empty_list_runs_no_iteration() -> None:
    @dsl.pipeline
    def p(items: list) -> int:
        with dsl.ParallelFor(items) as item:
            sq = square(x=item)
        return total(xs=dsl.Collected(sq.output)).output

    run = flowyard.run(p, arguments={"items": []})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == 0
    assert leaves(run, "square") == []


def test_parallel_for_task_output_list() -> None:
    @dsl.pipeline
    def p(n: int = 3) -> int:
        lst = make_list(n=n)
        with dsl.ParallelFor(lst.output) as item:
            sq = square(x=item)
        return total(xs=dsl.Collected(sq.output)).output

    run = flowyard.run(p, arguments={"n": 4})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == 1 + 4 + 9 + 16
    assert sorted(output(t) for t in leaves(run, "square")) == [1, 4, 9, 16]


def test_parallel_for_dict_items_field_access() -> None:
    @dsl.pipeline
    def p() -> list:
        with dsl.ParallelFor([{"a": 1, "b": 10}, {"a": 2, "b": 20}]) as item:
            m = mul(a=item.a, b=item.b)
        return dsl.Collected(m.output)

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert sorted(run.outputs["Output"]) == [10, 40]


def test_parallel_for_parameter_list_of_dicts_field_access() -> None:
    @dsl.pipeline
    def p(rows: list) -> list:
        with dsl.ParallelFor(rows) as row:
            d = describe(a=row.a, b=row.b)
        return dsl.Collected(d.output)

    run = flowyard.run(p, arguments={"rows": [{"a": 7, "b": "x"}, {"a": 8, "b": "y"},
                                              {"a": 9, "b": "z"}]})
    assert run.state == "SUCCEEDED", run.error
    assert sorted(run.outputs["Output"]) == ["x=7", "y=8", "z=9"]


def test_parallelism_limit_one_runs_iterations_one_after_another() -> None:
    @dsl.pipeline
    def p() -> int:
        with dsl.ParallelFor([1, 2, 3], parallelism=1) as item:
            sq = nap_square(x=item)
        return total(xs=dsl.Collected(sq.output)).output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == 14
    steps = sorted(leaves(run, "nap-square"), key=lambda t: t.started_at)  # type: ignore[arg-type]
    assert len(steps) == 3
    for earlier, later in itertools.pairwise(steps):
        assert earlier.finished_at is not None and later.started_at is not None
        assert earlier.finished_at <= later.started_at, "iterations of a parallelism=1 loop overlapped"


def test_nested_loops() -> None:
    @dsl.pipeline
    def p() -> None:
        with dsl.ParallelFor([1, 2]) as a, dsl.ParallelFor([10, 20, 30]) as b:
            mul(a=a, b=b)

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    products = sorted(output(t) for t in leaves(run, "mul"))
    assert products == [10, 20, 20, 30, 40, 60]
    loops = [t for t in run.tasks if t.kind == "loop"]
    assert len(loops) == 1 + 2  # the outer loop, and the inner loop once per outer item
    assert all(t.state == "SUCCEEDED" for t in run.tasks)


# Collected ---------------------------------------------------------------------------
def test_collected_artifacts_consumed_downstream() -> None:
    @dsl.pipeline
    def p() -> str:
        with dsl.ParallelFor([1, 2, 3]) as item:
            w = write_dataset(x=item)
        return concat(parts=dsl.Collected(w.outputs["out"])).output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "row-1,row-2,row-3"


@dsl.pipeline
def make_datasets() -> List[Dataset]:  # noqa: UP006
    with dsl.ParallelFor([1, 2, 3]) as item:
        w = write_dataset(x=item)
    return dsl.Collected(w.outputs["out"])


def test_parallel_for_over_artifact_list() -> None:
    @dsl.pipeline
    def p() -> list:
        made = make_datasets()
        with dsl.ParallelFor(made.output) as ds:
            r = read_dataset(ds=ds)
        return dsl.Collected(r.output)

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert sorted(run.outputs["Output"]) == ["row-1", "row-2", "row-3"]
    assert len(leaves(run, "read-dataset")) == 3


# If / Elif / Else, OneOf ------------------------------------------------------------------
def _branching() -> object:
    @dsl.pipeline
    def p(n: int) -> str:
        with dsl.If(n > 10):
            big = echo(text="big")
        with dsl.Elif(n > 5):
            mid = echo(text="medium")
        with dsl.Else():
            small = echo(text="small")
        return dsl.OneOf(big.output, mid.output, small.output)

    return p


@pytest.mark.parametrize(("n", "expected", "taken"), [(20, "big", 0), (7, "medium", 1),
                                                      (1, "small", 2)])
def test_if_elif_else_takes_one_branch_and_skips_the_others(n: int, expected: str,
                                                            taken: int) -> None:
    run = flowyard.run(_branching(), arguments={"n": n})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == expected
    conditions = sorted((t for t in run.tasks if t.kind == "condition"), key=lambda t: t.name)
    assert len(conditions) == 3
    states = [t.state for t in conditions]
    assert states[taken] == "SUCCEEDED"
    assert [s for i, s in enumerate(states) if i != taken] == ["SKIPPED", "SKIPPED"]
    # only the taken branch executed anything
    echoes = leaves(run, "echo") + [t for t in run.tasks if t.name.startswith("echo-")]
    executed = [t for t in echoes if t.state == "SUCCEEDED"]
    assert [output(t) for t in executed] == [expected]


def test_one_of_artifacts() -> None:
    @dsl.pipeline
    def p(flag: bool) -> Dataset:
        with dsl.If(flag == True):  # noqa: E712 (a KFP condition, not a Python comparison)
            a = write_dataset(x=1)
        with dsl.Else():
            b = write_dataset(x=2)
        return dsl.OneOf(a.outputs["out"], b.outputs["out"])

    @dsl.pipeline
    def outer(flag: bool) -> str:
        chosen = p(flag=flag)
        return read_dataset(ds=chosen.output).output

    run = flowyard.run(outer, arguments={"flag": False})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "row-2"
    run = flowyard.run(outer, arguments={"flag": True})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "row-1"


def test_condition_on_task_output() -> None:
    @dsl.pipeline
    def p(text: str) -> str:
        e = echo(text=text)
        with dsl.If(e.output == "go"):
            went = echo(text="went")
        with dsl.Else():
            stayed = echo(text="stayed")
        return dsl.OneOf(went.output, stayed.output)

    assert flowyard.run(p, arguments={"text": "go"}).outputs["Output"] == "went"
    assert flowyard.run(p, arguments={"text": "stop"}).outputs["Output"] == "stayed"


# ExitHandler, failures -------------------------------------------------------------------
def test_exit_handler_runs_after_failure_and_sees_it() -> None:
    @dsl.pipeline
    def p() -> None:
        final = report()
        with dsl.ExitHandler(final):
            boom(message="the model diverged")

    run = flowyard.run(p)
    assert run.state == "FAILED"
    assert "the model diverged" in (run.error or "")
    exit_task = run.task("report")
    assert exit_task.state == "SUCCEEDED"
    state, message, _ = str(output(exit_task)).split("|", 2)
    assert state == "FAILED"
    assert "the model diverged" in message
    boom_task = run.task("boom")
    assert boom_task.state == "FAILED"
    assert boom_task.finished_at is not None and exit_task.started_at is not None
    assert exit_task.started_at >= boom_task.finished_at


def test_exit_handler_sees_success() -> None:
    @dsl.pipeline
    def p() -> None:
        final = report()
        with dsl.ExitHandler(final):
            echo(text="fine")

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    state, message, _ = str(output(run.task("report"))).split("|", 2)
    assert state == "COMPLETE"
    assert message == "None"  # KFP's executor gives error_message=None when nothing failed


def test_downstream_of_failure_is_skipped_and_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    @dsl.pipeline
    def p(path: str) -> None:
        b = boom(message="upstream broke")
        touch(path=path).after(b)

    run = flowyard.run(p, arguments={"path": str(marker)})
    assert run.state == "FAILED"
    assert run.task("boom").state == "FAILED"
    assert "upstream broke" in (run.task("boom").error or "")
    assert run.task("touch").state == "SKIPPED"
    assert not marker.exists()
    assert run.logs("touch") == ""


def test_ignore_upstream_failure_runs_cleanup(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"

    @dsl.pipeline
    def p(path: str) -> None:
        b = boom(message="training failed")
        touch(path=path).after(b).ignore_upstream_failure()

    run = flowyard.run(p, arguments={"path": str(marker)})
    assert run.state == "FAILED"
    assert run.task("touch").state == "SUCCEEDED"
    assert marker.read_text() == "ran"


# everything nested ------------------------------------------------------------------------
@dsl.pipeline
def inner_pipeline(items: list, threshold: int) -> int:
    with dsl.If(threshold > 0):
        with dsl.ParallelFor(items) as item:
            sq = square(x=item)
        summed = total(xs=dsl.Collected(sq.output))
    with dsl.Else():
        fallback = const(v=-1)
    return dsl.OneOf(summed.output, fallback.output)


@dsl.pipeline
def middle_pipeline(items: list, threshold: int) -> int:
    inner = inner_pipeline(items=items, threshold=threshold)
    return double(x=inner.output).output


@dsl.pipeline
def outer_pipeline(items: list = [1, 2, 3], threshold: int = 1) -> int:  # noqa: B006
    return middle_pipeline(items=items, threshold=threshold).output


def test_loop_inside_condition_inside_nested_pipelines() -> None:
    run = flowyard.run(outer_pipeline, arguments={"items": [1, 2, 3], "threshold": 1})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == 2 * (1 + 4 + 9)
    assert sorted(output(t) for t in leaves(run, "square")) == [1, 4, 9]
    # the nested pipelines are DAG tasks with their own outputs
    middle = run.task("middle-pipeline")
    assert middle.kind == "dag" and output(middle) == 28
    inner = run.task("inner-pipeline")
    assert inner.kind == "dag" and output(inner) == 14
    assert inner.path.startswith(middle.path + "/")
    assert all(t.path.startswith(inner.path + "/") for t in leaves(run, "square"))
    skipped = [t for t in run.tasks if t.state == "SKIPPED"]
    assert [t.kind for t in skipped] == ["condition"]


def test_nested_pipelines_take_the_other_branch() -> None:
    run = flowyard.run(outer_pipeline, arguments={"items": [1, 2, 3], "threshold": 0})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == -2
    assert leaves(run, "square") == []
    assert [t.kind for t in run.tasks if t.state == "SKIPPED"] == ["condition"]


def test_failure_deep_inside_nested_loop_fails_the_run() -> None:
    @dsl.component
    def picky(x: int) -> int:
        if x == 2:
            raise ValueError("two is not allowed")
        return x

    @dsl.pipeline
    def inner(items: list) -> list:
        with dsl.ParallelFor(items) as item:
            t = picky(x=item)
        return dsl.Collected(t.output)

    @dsl.pipeline
    def outer() -> None:
        inner(items=[1, 2, 3])

    run = flowyard.run(outer)
    assert run.state == "FAILED"
    assert "two is not allowed" in (run.error or "")
    states = sorted(t.state for t in run.tasks if t.name == "picky")
    assert states == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert run.task("inner").state == "FAILED"


# combinations ------------------------------------------------------------------------------
def test_condition_on_loop_item_collects_only_taken_iterations() -> None:
    @dsl.pipeline
    def p() -> list:
        with dsl.ParallelFor([1, 2, 3]) as x, dsl.If(x > 1):
            s = square(x=x)
        return dsl.Collected(s.output)

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert sorted(run.outputs["Output"]) == [4, 9]
    conditions = sorted((t for t in run.tasks if t.kind == "condition"), key=lambda t: t.path)
    assert [t.state for t in conditions] == ["SKIPPED", "SUCCEEDED", "SUCCEEDED"]


def test_nested_loops_collect_a_list_per_outer_item() -> None:
    @dsl.pipeline
    def p() -> list:
        with dsl.ParallelFor([1, 2]) as a, dsl.ParallelFor([10, 20]) as b:
            m = mul(a=a, b=b)
        return dsl.Collected(m.output)

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == [[10, 20], [20, 40]]


@dsl.component
def dict_rows() -> list:
    return [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]


@dsl.component
def whole(d: dict) -> str:
    return f"{d['b']}:{d['a']}"


def test_task_output_list_of_dicts_whole_items_and_fields() -> None:
    @dsl.pipeline
    def p() -> NamedTuple("Out", fields=list, items=list):  # type: ignore[valid-type]
        rows = dict_rows()
        with dsl.ParallelFor(rows.output) as item:
            d = describe(a=item.a, b=item.b)
            w = whole(d=item)
        out = NamedTuple("Out", fields=list, items=list)  # noqa: UP014
        return out(fields=dsl.Collected(d.output), items=dsl.Collected(w.output))

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert sorted(run.outputs["fields"]) == ["x=1", "y=2"]
    assert sorted(run.outputs["items"]) == ["x:1", "y:2"]


def test_exit_handler_around_a_loop() -> None:
    @dsl.pipeline
    def p() -> None:
        final = report()
        with dsl.ExitHandler(final), dsl.ParallelFor([1, 2]):
            boom(message="iteration broke")

    run = flowyard.run(p)
    assert run.state == "FAILED"
    state, message, _ = str(output(run.task("report"))).split("|", 2)
    assert state == "FAILED" and "iteration broke" in message


def test_exit_handler_inside_nested_pipeline_and_cleanup_in_parent() -> None:
    @dsl.pipeline
    def inner(msg: str) -> None:
        final = report()
        with dsl.ExitHandler(final):
            boom(message=msg)

    @dsl.pipeline
    def outer() -> None:
        i = inner(msg="inner broke")
        echo(text="cleanup").after(i).ignore_upstream_failure()

    run = flowyard.run(outer)
    assert run.state == "FAILED"
    assert run.task("inner").state == "FAILED"
    assert "inner broke" in (run.task("inner").error or "")
    state, message, _ = str(output(run.task("report"))).split("|", 2)
    assert state == "FAILED" and "inner broke" in message
    assert run.task("echo").state == "SUCCEEDED"


def test_final_status_of_an_ordinary_task_after_ignore_upstream_failure() -> None:
    @dsl.pipeline
    def p() -> None:
        b = boom(message="watched failure")
        report().after(b).ignore_upstream_failure()

    run = flowyard.run(p)
    assert run.state == "FAILED"
    state, message, task = str(output(run.task("report"))).split("|", 2)
    assert (state, task) == ("FAILED", "boom")
    assert "watched failure" in message


def test_condition_on_nested_pipeline_output() -> None:
    @dsl.pipeline
    def squared(x: int) -> int:
        return square(x=x).output

    @dsl.pipeline
    def p(x: int) -> str:
        s = squared(x=x)
        with dsl.If(s.output > 10):
            big = echo(text="big")
        with dsl.Else():
            small = echo(text="small")
        return dsl.OneOf(big.output, small.output)

    assert flowyard.run(p, arguments={"x": 4}).outputs["Output"] == "big"
    assert flowyard.run(p, arguments={"x": 2}).outputs["Output"] == "small"
