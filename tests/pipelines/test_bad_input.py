"""Bad input is refused before any run exists, with a message naming the field and what was
expected; a failing component gives a FAILED run whose failed task shows the component's own
exception and the tail of its log."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import compiler, dsl

import flowyard
from flowyard.pipelines.errors import PipelineError
from flowyard.store import open_store


@dsl.component
def add(a: int, b: float = 0.5) -> float:
    return a + b


@dsl.pipeline
def typed(n: int, label: str = "x", flags: list = [], opts: dict = {}) -> float:  # noqa: B006
    return add(a=n).output


@pytest.fixture
def compiled(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "typed.yaml"
    compiler.Compiler().compile(typed, str(path))
    return yaml.safe_load(path.read_text())


def refused(pipeline: Any, arguments: dict[str, Any] | None = None) -> str:
    with pytest.raises(PipelineError) as info:
        flowyard.run(pipeline, arguments=arguments or {})
    assert open_store().count_runs() == 0, "a refused pipeline must not create a run"
    return str(info.value)


def write(tmp_path: Path, doc: dict[str, Any], name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("pipelineInfo:\n  name: x\nroot:\n  dag: [unclosed\n  tasks: {}\n")
    message = refused(path)
    assert str(path) in message
    assert "invalid YAML" in message
    assert "line 5" in message


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "root": {\n    "dag": ,\n  }\n}\n')
    message = refused(path)
    assert "line 3" in message and "invalid JSON" in message


def test_not_a_pipeline_at_all(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text("kind: Deployment\nmetadata: {name: web}\n")
    message = refused(path)
    assert "not a compiled KFP pipeline" in message and "root" in message


def test_missing_file() -> None:
    assert "no such file" in refused("/nonexistent/pipeline.yaml")


def test_unknown_field_is_named(tmp_path: Path, compiled: dict[str, Any]) -> None:
    compiled["root"]["dag"]["tasks"]["add"]["retryPolicyy"] = {"maxRetryCount": 1}
    message = refused(write(tmp_path, compiled))
    assert "retryPolicyy" in message
    assert "invalid PipelineSpec" in message


def test_component_ref_to_missing_component(tmp_path: Path, compiled: dict[str, Any]) -> None:
    compiled["root"]["dag"]["tasks"]["add"]["componentRef"]["name"] = "comp-gone"
    message = refused(write(tmp_path, compiled))
    assert "root.dag.tasks.add.componentRef.name" in message
    assert "comp-gone" in message


def test_executor_label_to_missing_executor(tmp_path: Path, compiled: dict[str, Any]) -> None:
    compiled["components"]["comp-add"]["executorLabel"] = "exec-gone"
    message = refused(write(tmp_path, compiled))
    assert "components.comp-add.executorLabel" in message and "exec-gone" in message


def test_dependency_on_unknown_task(tmp_path: Path, compiled: dict[str, Any]) -> None:
    compiled["root"]["dag"]["tasks"]["add"]["dependentTasks"] = ["ghost"]
    message = refused(write(tmp_path, compiled))
    assert "dependentTasks" in message and "ghost" in message


def test_unsupported_schema_version(tmp_path: Path, compiled: dict[str, Any]) -> None:
    compiled["schemaVersion"] = "9.9.9"
    message = refused(write(tmp_path, compiled))
    assert "schemaVersion" in message and "2.1.0" in message


def test_missing_required_argument() -> None:
    message = refused(typed)
    assert "missing required pipeline parameter 'n'" in message
    assert "NUMBER_INTEGER" in message


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"n": "three"}, "parameter 'n': expected an integer (NUMBER_INTEGER), got 'three'"),
        ({"n": 1.5}, "parameter 'n': expected an integer"),
        ({"n": True}, "parameter 'n': expected an integer"),
        ({"n": 1, "label": 7}, "parameter 'label': expected a string (STRING), got 7"),
        ({"n": 1, "flags": "a,b"}, "parameter 'flags': expected a JSON list (LIST)"),
        ({"n": 1, "opts": [1]}, "parameter 'opts': expected a JSON object (STRUCT)"),
    ],
)
def test_wrong_type(arguments: dict[str, Any], expected: str) -> None:
    assert expected in refused(typed, arguments)


def test_unknown_parameter() -> None:
    message = refused(typed, {"n": 1, "nn": 2})
    assert "unknown pipeline parameter 'nn'" in message
    assert "n (NUMBER_INTEGER)" in message  # ...and what the pipeline does take


def test_python_file_without_a_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "nothing.py"
    path.write_text("x = 1\n")
    assert "no @dsl.pipeline function" in refused(str(path))
    assert "has no function 'nope'" in refused(f"{path}:nope")


@dsl.component
def explode(token: str) -> str:
    print("about to fail, step one")
    print("about to fail, step two")
    raise ValueError(f"the widget {token} is broken")


@dsl.component
def never(x: str) -> str:
    return x


def test_failing_component_shows_its_own_error_and_log_tail() -> None:
    @dsl.pipeline
    def failing() -> str:
        return never(x=explode(token="w-42").output).output

    run = flowyard.run(failing)
    assert run.state == "FAILED"
    failed = run.task("explode")
    assert failed.state == "FAILED"
    assert "ValueError: the widget w-42 is broken" in (failed.error or "")
    assert "explode" in (run.error or "") and "the widget w-42 is broken" in (run.error or "")
    row = open_store().get_task(failed.id)
    assert row is not None
    tail = row.details["log_tail"]
    assert "about to fail, step two" in tail and "Traceback" in tail
    assert "ValueError: the widget w-42 is broken" in run.logs("explode")
    # Downstream of the failure nothing ran.
    assert run.task("never").state not in ("SUCCEEDED", "RUNNING")
    assert run.outputs == {}


@dsl.container_component
def missing_tool():
    return dsl.ContainerSpec(image="example.com/tools:1", command=["definitely-not-installed-xyz"])


@dsl.container_component
def exit_seven():
    return dsl.ContainerSpec(image="alpine:3", command=["sh", "-c", "echo broken pipe >&2; exit 7"])


@pytest.mark.parametrize(
    ("component", "expected"),
    [
        (missing_tool, ["example.com/tools:1", "definitely-not-installed-xyz", "not on PATH"]),
        (exit_seven, ["exit code 7", "broken pipe"]),
    ],
)
def test_failing_container_component(component: Callable[..., Any], expected: list[str]) -> None:
    @dsl.pipeline
    def p():
        component()

    run = flowyard.run(p)
    assert run.state == "FAILED"
    error = run.tasks[0].error or ""
    for piece in expected:
        assert piece in error


def test_component_not_writing_its_output_parameter() -> None:
    @dsl.container_component
    def lazy(out: dsl.OutputPath(str)):
        return dsl.ContainerSpec(image="alpine:3", command=["true"], args=[out])

    @dsl.pipeline
    def p():
        lazy()

    run = flowyard.run(p)
    assert run.state == "FAILED"
    assert "did not write its output parameter 'out'" in (run.task("lazy").error or "")
