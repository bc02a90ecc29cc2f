"""Every placeholder kind a compiled pipeline can hold, resolved on a real container component's
command line (`sh -c`) and in parameters: `{{$}}`, inputs/outputs parameters and artifacts
(`.path`, `.uri`, `.metadata`), `output_file`, the pipeline job/task names and ids,
IfPresent, Concat, and f-string placeholders."""

import json
from pathlib import Path
from typing import Any, Optional  # kfp reads Optional[...], not X | None

import pytest
from kfp import dsl
from kfp.dsl import Dataset, Input, Output

import flowyard

# Writes each argument after the first on its own line into the file named by the first.
LINES = 'out="$1"; shift; printf "%s\\n" "$@" > "$out"'


@dsl.component
def make_dataset(out: Output[Dataset]) -> None:
    with open(out.path, "w") as f:
        f.write("a,b\n1,2\n")
    out.metadata["rows"] = 1
    out.metadata["source"] = "unit"


@dsl.component
def greet(name: str) -> str:
    return f"hi {name}"


@dsl.container_component
def probe(text: str, num: int, ds: Input[Dataset], report: dsl.OutputPath(str),
          result: Output[Dataset]):
    return dsl.ContainerSpec(
        image="alpine:3",
        command=["sh", "-c", 'cat "$2" > "$3"; out="$1"; shift 3; printf "%s\\n" "$@" > "$out"',
                 "sh"],
        args=[
            report,                       # $1: {{$.outputs.parameters['report'].output_file}}
            ds.path,                      # $2, copied by the script to
            result.path,                  # $3
            text,
            num,
            ds.uri,
            ds.metadata,
            ds.metadata["rows"],
            result.uri,
            result.metadata,
            dsl.ConcatPlaceholder(["k=", text, "-", num]),
            dsl.PIPELINE_TASK_EXECUTOR_OUTPUT_PATH_PLACEHOLDER,
            dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER,
            dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            dsl.PIPELINE_TASK_NAME_PLACEHOLDER,
            dsl.PIPELINE_TASK_ID_PLACEHOLDER,
            dsl.PIPELINE_ROOT_PLACEHOLDER,
            dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER,
            dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER,
        ],
    )


PROBE_LINES = ["text", "num", "ds_uri", "ds_metadata", "ds_rows", "result_uri",
               "result_metadata", "concat", "output_file", "job_name", "job_resource_name",
               "job_id", "task_name", "task_id", "pipeline_root", "create_time",
               "schedule_time"]


@dsl.pipeline(name="placeholder-probe")
def probe_pipeline(text: str = "abc", num: int = 7):
    ds = make_dataset()
    probe(text=text, num=num, ds=ds.outputs["out"]).set_caching_options(False)


def _report(run: flowyard.Run, task: str, key: str = "report") -> dict[str, str]:
    lines = str(run.task(task).outputs["parameters"][key]).splitlines()
    assert len(lines) == len(PROBE_LINES), lines
    return dict(zip(PROBE_LINES, lines, strict=True))


def test_parameter_artifact_and_pipeline_placeholders(fy_home: Path) -> None:
    run = flowyard.run(probe_pipeline, arguments={"text": "hello world"}, run_name="nightly")
    assert run.state == "SUCCEEDED", run.error
    got = _report(run, "probe")
    ds = run.task("make-dataset").outputs["artifacts"]["out"][0]
    result = run.task("probe").outputs["artifacts"]["result"][0]

    assert got["text"] == "hello world"
    assert got["num"] == "7"
    assert got["ds_uri"] == ds["uri"]
    assert json.loads(got["ds_metadata"]) == {"rows": 1, "source": "unit"}
    assert got["ds_rows"] == "1"
    assert got["result_uri"] == result["uri"]
    assert json.loads(got["result_metadata"]) == {}
    assert got["concat"] == "k=hello world-7"
    assert got["output_file"].endswith("executor_output.json")
    # As on Kubeflow: the job name is the run's display name, the resource name is unique.
    assert got["job_name"] == "nightly"
    assert got["job_resource_name"].startswith("placeholder-probe")
    assert run.id[:8] in got["job_resource_name"]
    assert got["job_id"] == run.id
    assert got["task_name"] == "probe"
    assert got["task_id"] == run.task("probe").id
    assert got["pipeline_root"] == str(fy_home / "artifacts")
    assert got["create_time"] and got["create_time"] == got["schedule_time"]
    # .path of an input is where the producer wrote it; .path of an output is where the
    # component must write, and what it wrote is what downstream gets.
    assert Path(ds["uri"]).read_text() == "a,b\n1,2\n"
    assert Path(result["uri"]).read_text() == "a,b\n1,2\n"
    assert str(fy_home / "artifacts") in result["uri"]


@dsl.container_component
def echo_exec_input(text: str, dump: dsl.OutputPath(str)):
    return dsl.ContainerSpec(
        image="alpine:3",
        command=["sh", "-c", 'printf "%s" "$0" > "$1"'],
        args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER, dump],
    )


def test_executor_input_placeholder_is_kfp_executor_input() -> None:
    @dsl.pipeline
    def p():
        echo_exec_input(text="xyz")

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    ex = json.loads(run.task("echo-exec-input").outputs["parameters"]["dump"])
    assert ex["inputs"]["parameterValues"] == {"text": "xyz"}
    out_file = ex["outputs"]["parameters"]["dump"]["outputFile"]
    assert out_file.endswith("dump")
    assert ex["outputs"]["outputFile"].endswith("executor_output.json")


@dsl.container_component
def optional_flags(out: dsl.OutputPath(str), flag: Optional[str] = None,  # noqa: UP045
                   data: Optional[Input[Dataset]] = None):  # noqa: UP045
    return dsl.ContainerSpec(
        image="alpine:3",
        command=["sh", "-c", LINES, "sh", out],
        args=[
            "start",
            dsl.IfPresentPlaceholder(input_name="flag", then=["--flag", flag],
                                     else_=["--no-flag"]),
            dsl.IfPresentPlaceholder(input_name="data", then=[data.path]),
            dsl.ConcatPlaceholder([
                "x",
                dsl.IfPresentPlaceholder(input_name="flag", then=flag, else_="none"),
                "y",
            ]),
            "end",
        ],
    )


def test_if_present_and_concat_nested() -> None:
    @dsl.pipeline
    def p():
        ds = make_dataset()
        optional_flags(flag="on", data=ds.outputs["out"]).set_display_name("with")
        optional_flags().set_display_name("without")

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    with_ = run.task("with").outputs["parameters"]["out"].splitlines()
    without = run.task("without").outputs["parameters"]["out"].splitlines()
    data_uri = run.task("make-dataset").outputs["artifacts"]["out"][0]["uri"]
    assert with_ == ["start", "--flag", "on", data_uri, "xony", "end"]
    # The absent artifact's IfPresent has no else: the argument disappears entirely.
    assert without == ["start", "--no-flag", "xnoney", "end"]


@dsl.component
def take(text: str) -> str:
    return text


@dsl.container_component
def shout(text: str, out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine:3", command=["sh", "-c", 'echo "$0!" > "$1"'],
                             args=[text, out])


def test_f_string_placeholders() -> None:
    @dsl.pipeline
    def p(who: str = "ann", n: int = 3):
        up = greet(name=who)
        take(text=f"hello {up.output}").set_display_name("from-task")
        take(text=f"{who} has {n}").set_display_name("from-params")
        shout(text=f"[{up.output}|{who}]")

    run = flowyard.run(p, arguments={"who": "bo"})
    assert run.state == "SUCCEEDED", run.error
    assert run.task("from-task").outputs["parameters"]["Output"] == "hello hi bo"
    assert run.task("from-params").outputs["parameters"]["Output"] == "bo has 3"
    assert run.task("shout").outputs["parameters"]["out"] == "[hi bo|bo]!\n"


def test_pipeline_placeholders_as_parameter_values() -> None:
    @dsl.pipeline(name="named-job")
    def p():
        take(text=dsl.PIPELINE_JOB_NAME_PLACEHOLDER).set_display_name("job-name")
        take(text=dsl.PIPELINE_JOB_ID_PLACEHOLDER).set_display_name("job-id")
        take(text=dsl.PIPELINE_TASK_NAME_PLACEHOLDER).set_display_name("task-name")
        take(text=dsl.PIPELINE_TASK_ID_PLACEHOLDER).set_display_name("task-id")
        take(text=f"root={dsl.PIPELINE_ROOT_PLACEHOLDER}").set_display_name("root")

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error

    def out(name: str) -> Any:
        return run.task(name).outputs["parameters"]["Output"]

    assert out("job-name") == run.name and run.name.startswith("named-job ")
    assert out("job-id") == run.id
    assert out("task-name") == "task-name"
    assert out("task-id") == run.task("task-id").id
    assert out("root").startswith("root=/")


@pytest.mark.parametrize("present", [True, False])
def test_optional_parameter_placeholder_alone(present: bool) -> None:
    """A lone placeholder for an absent optional input drops the argument (no empty string)."""

    @dsl.container_component
    def count_args(out: dsl.OutputPath(str), maybe: Optional[str] = None):  # noqa: UP045
        return dsl.ContainerSpec(image="alpine:3",
                                 command=["sh", "-c", 'echo "$#" > "$1"', "sh", out],
                                 args=[dsl.IfPresentPlaceholder(input_name="maybe",
                                                                then=[maybe])])

    @dsl.pipeline
    def p():
        if present:
            count_args(maybe="v")
        else:
            count_args()

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.task("count-args").outputs["parameters"]["out"].strip() == ("2" if present else "1")
