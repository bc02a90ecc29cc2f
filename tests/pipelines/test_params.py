"""Parameters of every KFP type: pipeline inputs with defaults and overrides, optional inputs,
values passed between tasks (`taskOutputParameter`), constants (`runtimeValue`), container
output files read by their declared type, and `env`."""

import json
from typing import Optional  # kfp reads Optional[...], not X | None

from kfp import dsl

import flowyard


@dsl.component
def describe(s: str, i: int, f: float, b: bool, items: list, mapping: dict) -> str:
    import json

    return json.dumps({"s": s, "i": i, "f": f, "b": b, "items": items, "mapping": mapping,
                       "types": [type(v).__name__ for v in (s, i, f, b, items, mapping)]})


@dsl.pipeline
def all_types(s: str = "text", i: int = 3, f: float = 1.5, b: bool = False,
              items: list = [1, "two"], mapping: dict = {"k": [1, 2]}) -> str:  # noqa: B006
    return describe(s=s, i=i, f=f, b=b, items=items, mapping=mapping).output


def test_defaults_keep_their_types() -> None:
    run = flowyard.run(all_types)
    assert run.state == "SUCCEEDED", run.error
    got = json.loads(run.outputs["Output"])
    assert got == {"s": "text", "i": 3, "f": 1.5, "b": False, "items": [1, "two"],
                   "mapping": {"k": [1, 2]},
                   "types": ["str", "int", "float", "bool", "list", "dict"]}
    assert run.arguments["i"] == 3 and isinstance(run.arguments["i"], int)


def test_arguments_override_defaults() -> None:
    run = flowyard.run(all_types, arguments={"s": "", "i": 4.0, "f": 2, "b": True,
                                             "items": [], "mapping": {"a": {"b": None}}})
    assert run.state == "SUCCEEDED", run.error
    got = json.loads(run.outputs["Output"])
    # An integral float is an integer; an integer given for a float is a float.
    assert (got["s"], got["i"], got["f"], got["b"]) == ("", 4, 2.0, True)
    assert got["types"][:3] == ["str", "int", "float"]
    assert got["items"] == [] and got["mapping"] == {"a": {"b": None}}


@dsl.component
def maybe(x: Optional[int] = None, y: str = "dflt") -> str:  # noqa: UP045
    return f"{x}|{y}"


def test_optional_and_default_component_inputs() -> None:
    @dsl.pipeline
    def p():
        maybe().set_display_name("none")
        maybe(x=5, y="given").set_display_name("both")

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.task("none").outputs["parameters"]["Output"] == "None|dflt"
    assert run.task("both").outputs["parameters"]["Output"] == "5|given"


@dsl.component
def emit_int() -> int:
    return 41


@dsl.component
def emit_float() -> float:
    return 0.25


@dsl.component
def emit_bool() -> bool:
    return True


@dsl.component
def emit_list() -> list:
    return [{"a": 1}, 2]


@dsl.component
def emit_dict() -> dict:
    return {"nested": {"x": [1]}}


@dsl.component
def check_types(i: int, f: float, b: bool, items: list, mapping: dict) -> str:
    assert isinstance(i, int) and i == 41, i
    assert isinstance(f, float) and f == 0.25, f
    assert b is True, b
    assert items == [{"a": 1}, 2], items
    assert mapping == {"nested": {"x": [1]}}, mapping
    return "ok"


def test_task_outputs_keep_their_types_downstream() -> None:
    @dsl.pipeline
    def p() -> str:
        return check_types(i=emit_int().output, f=emit_float().output, b=emit_bool().output,
                           items=emit_list().output, mapping=emit_dict().output).output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs == {"Output": "ok"}
    assert run.task("emit-int").outputs["parameters"]["Output"] == 41
    assert run.task("emit-list").outputs["parameters"]["Output"] == [{"a": 1}, 2]


@dsl.container_component
def typed_files(n: dsl.OutputPath(int), ok: dsl.OutputPath(bool), xs: dsl.OutputPath(list),
                ratio: dsl.OutputPath(float)):
    return dsl.ContainerSpec(
        image="alpine:3",
        command=["sh", "-c",
                 'echo 12 > "$0"; echo true > "$1"; echo \'[1, "a"]\' > "$2"; echo 0.5 > "$3"'],
        args=[n, ok, xs, ratio],
    )


@dsl.component
def sum_up(n: int, ok: bool, xs: list, ratio: float) -> str:
    return f"{n + 1}|{ok}|{len(xs)}|{ratio * 2}"


def test_container_output_files_are_read_by_declared_type() -> None:
    @dsl.pipeline
    def p() -> str:
        t = typed_files()
        return sum_up(n=t.outputs["n"], ok=t.outputs["ok"], xs=t.outputs["xs"],
                      ratio=t.outputs["ratio"]).output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs == {"Output": "13|True|2|1.0"}
    assert run.task("typed-files").outputs["parameters"] == {"n": 12, "ok": True,
                                                            "xs": [1, "a"], "ratio": 0.5}


@dsl.component
def read_env(name: str) -> str:
    import os

    return os.environ.get(name, "<unset>")


@dsl.container_component
def env_shell(out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine:3", command=["sh", "-c", 'echo "$GREETING" > "$0"'],
                             args=[out])


def test_env_variables() -> None:
    @dsl.pipeline
    def p():
        read_env(name="MY_SETTING").set_env_variable("MY_SETTING", "on")
        read_env(name="MY_SETTING").set_display_name("unset")
        env_shell().set_env_variable("GREETING", "hello there")

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.task("read-env").outputs["parameters"]["Output"] == "on"
    assert run.task("unset").outputs["parameters"]["Output"] == "<unset>"
    assert run.task("env-shell").outputs["parameters"]["out"] == "hello there\n"


def test_constants_and_pipeline_inputs_mix() -> None:
    @dsl.pipeline
    def p(i: int = 2) -> float:
        return add_all(a=i, b=10, c=emit_float().output).output

    run = flowyard.run(p, arguments={"i": 7})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs == {"Output": 17.25}


@dsl.component
def add_all(a: int, b: int, c: float) -> float:
    return a + b + c


@dsl.component
def reprs(items: list, mapping: dict) -> str:
    return repr(items) + " " + repr(sorted(mapping.items()))


def test_numbers_in_lists_and_structs_arrive_as_on_kubeflow() -> None:
    """The compiler writes [1, 2] as [1.0, 2.0]; Kubeflow's backend hands integral numbers
    back as integers, so range(items[0]) works in a component there, and must here."""

    @dsl.pipeline
    def p(items: list = [1, 2.5, [3]], mapping: dict = {"n": 4, "f": 0.5}) -> str:  # noqa: B006
        reprs(items=[7, 8], mapping={"k": 9}).set_display_name("constants")
        return reprs(items=items, mapping=mapping).output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "[1, 2.5, [3]] [('f', 0.5), ('n', 4)]"
    assert run.task("constants").outputs["parameters"]["Output"] == "[7, 8] [('k', 9)]"
