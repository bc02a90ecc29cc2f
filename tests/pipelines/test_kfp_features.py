"""KFP SDK features found missing by running more of Kubeflow's own sample pipelines, each
compiled by the real kfp SDK and run through `flowyard.run`: a List[Artifact] input to a
container component, an optional PipelineTaskFinalStatus outside an exit handler, resource
requests and limits given by a parameter or a task output, CEL selectors on the parsed JSON of
a loop item, pod metadata from placeholders, images whose shell is BusyBox's; and the
neighbouring SDK features (env placeholders, IfPresent inside Concat, workspaces)."""

import json
import shutil
from typing import List  # noqa: UP035 (kfp reads typing.List[Dataset])

import pytest
from kfp import compiler, dsl, kubernetes

import flowyard
from flowyard.images import family_of, resolve_image
from flowyard.pipelines.images import resolve_image as reexported
from flowyard.store import open_store

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


# -- List[Artifact] into a container -------------------------------------------------------

@dsl.component
def make_dataset(text: str, out: dsl.Output[dsl.Dataset]) -> None:
    with open(out.path, "w") as f:
        f.write(text)


@dsl.container_component
def join_datasets(in_datasets: dsl.Input[List[dsl.Dataset]],  # noqa: UP006
                  joined: dsl.OutputPath(str)):  # type: ignore[valid-type, no-untyped-def]
    script = ("import json, sys\n"
              "arts = json.loads(sys.argv[1])\n"
              "texts = [open(a['uri']).read() for a in arts]\n"
              "types = {a['type']['schemaTitle'] for a in arts}\n"
              "open(sys.argv[2], 'w').write('+'.join(sorted(texts)) + ' ' + ','.join(types))\n")
    return dsl.ContainerSpec(image="python:3.11", command=["python3", "-c", script],
                             args=[in_datasets, joined])


def test_a_list_of_artifacts_reaches_a_container_as_a_json_list() -> None:
    @dsl.pipeline
    def p() -> str:
        with dsl.ParallelFor(["a", "b", "c"]) as text:
            made = make_dataset(text=text)
        return join_datasets(in_datasets=dsl.Collected(made.outputs["out"])).outputs["joined"]

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "a+b+c system.Dataset"


# -- PipelineTaskFinalStatus outside an exit handler ---------------------------------------

@dsl.component
def report_status(status: dsl.PipelineTaskFinalStatus) -> str:
    return f"{status.state} {status.pipeline_task_name}"


def test_an_exit_component_run_on_its_own_gets_the_runs_status(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Compiling the component alone (Kubeflow's sample GH-12033) makes the status an
    # optional pipeline input nothing feeds; kfp's executor failed on `None.get`.
    path = tmp_path / "exit.yaml"
    compiler.Compiler().compile(report_status, str(path))
    run = flowyard.run(str(path))
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "COMPLETE report-status"


def test_a_status_given_as_an_argument_is_used(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "exit.yaml"
    compiler.Compiler().compile(report_status, str(path))
    status = {"state": "FAILED", "pipelineTaskName": "train", "pipelineJobResourceName": "x"}
    run = flowyard.run(str(path), {"status": status})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "FAILED train"


# -- resources from parameters and task outputs --------------------------------------------

@dsl.component
def many() -> str:
    return "512"


@dsl.component
def noop() -> str:
    return "ran"


def _events(run_id: str, reason: str) -> list[str]:
    return [e.message for e in open_store().events(run_id) if e.reason == reason]


def test_resource_requests_from_a_task_output_and_a_parameter() -> None:
    # More than any machine has, so the executor says what it was asked for.
    @dsl.pipeline
    def p(cpus: str = "768", mem: str = "2Gi", gpus: str = "4096"):
        n = many()
        noop().set_cpu_request(n.output).set_cpu_limit(n.output).set_display_name("from-output")
        noop().set_cpu_limit(cpus).set_memory_limit(mem).set_display_name("from-param")
        noop().set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(gpus) \
            .set_display_name("gpu-from-param")

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    reduced = _events(run.id, "ResourcesReduced")
    # Each request was read from its placeholder: 512 and 768 CPUs, 4096 GPUs.
    assert any("requests 512 CPUs" in m for m in reduced), reduced
    assert any("requests 768 CPUs" in m for m in reduced), reduced
    assert any("requests 4096 GPU" in m for m in reduced), reduced


def test_a_bad_resource_parameter_fails_the_task_naming_the_field() -> None:
    @dsl.pipeline
    def p(cpus: str = "lots"):
        noop().set_cpu_limit(cpus)

    run = flowyard.run(p)
    assert run.state == "FAILED"
    assert run.tasks[0].error is not None
    assert "resources.cpu: 'lots' is not a Kubernetes quantity" in run.tasks[0].error


# -- CEL on the parsed JSON of a loop item -------------------------------------------------

@dsl.component
def rows() -> list:
    return [{"A_a": "1", "B_b": "2"}, {"A_a": "10", "B_b": "20"}]


@dsl.component
def echo(x: str) -> str:
    return x


def test_a_condition_and_a_selector_on_fields_of_a_loop_item() -> None:
    @dsl.pipeline
    def p():
        with dsl.ParallelFor(rows().output) as item, dsl.If(item.B_b == "2"):
            echo(x=item.A_a)

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    echoes = [t for t in run.tasks if t.name == "echo"]
    assert [t.outputs["parameters"]["Output"] for t in echoes] == ["1"]
    assert sorted(t.state for t in run.tasks if t.name == "condition-2") == [
        "SKIPPED", "SUCCEEDED"]


# -- pod metadata from placeholders ---------------------------------------------------------

@dsl.component
def read_env(name: str) -> str:
    import os

    return os.environ.get(name, "<unset>")


def test_pod_labels_and_annotations_resolve_placeholders() -> None:
    @dsl.pipeline
    def p():
        t = read_env(name="JOB")
        kubernetes.add_pod_annotation(t, "job", "{{$.pipeline_job_name}}")
        kubernetes.add_pod_label(t, "task", "{{$.pipeline_task_name}}")
        kubernetes.use_field_path_as_env(t, "JOB", "metadata.annotations['job']")

    run = flowyard.run(p, run_name="nightly")
    assert run.state == "SUCCEEDED", run.error
    assert run.tasks[0].outputs["parameters"]["Output"] == "nightly"
    details = open_store().get_task(run.tasks[0].id).details
    assert details["labels"] == {"task": "read-env"}
    assert details["annotations"] == {"job": "nightly"}


# -- images whose shell is not the host's -----------------------------------------------------

@dsl.container_component
def ash_script(word: str, out: dsl.OutputPath(str)):  # type: ignore[valid-type, no-untyped-def]
    # `[[ ]]` is BusyBox ash syntax; Debian's /bin/sh (dash) says "[[: not found".
    return dsl.ContainerSpec(
        image="ghcr.io/containerd/busybox", command=["sh", "-ec"],
        args=['if [[ "$0" == "yes" ]]; then echo matched > "$1"; else echo no > "$1"; fi',
              word, out])


def test_a_busybox_script_with_double_brackets_runs() -> None:
    @dsl.pipeline
    def p() -> str:
        return ash_script(word="yes").outputs["out"]

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"].strip() == "matched"


def test_well_known_images_map_to_local_equivalents() -> None:
    assert family_of("ghcr.io/containerd/busybox:1.36") == "busybox"
    assert family_of("docker.io/library/alpine@sha256:0123") == "alpine"
    assert family_of("localhost:5000/team/python:3.12-slim") == "python"
    assert family_of("gcr.io/acme/trainer:1.0") is None
    busybox = resolve_image("busybox").argv(["/bin/sh", "-c", "true"])
    if shutil.which("busybox"):
        assert busybox == [shutil.which("busybox"), "sh", "-c", "true"]
        assert resolve_image("alpine:3").argv(["sed", "-n", "1p"])[1:] == ["sed", "-n", "1p"]
    else:
        assert busybox == [shutil.which("bash"), "-c", "true"]
    import sys

    assert resolve_image("python:3.11").argv(["/usr/local/bin/python", "-V"]) == [
        sys.executable, "-V"]
    # An image nobody maps runs exactly as written; so does a path outside the bin dirs.
    assert resolve_image("gcr.io/acme/x").argv(["sh", "-c", "x"]) == ["sh", "-c", "x"]
    assert resolve_image("busybox").argv(["/opt/tool", "a"]) == ["/opt/tool", "a"]
    assert reexported is resolve_image


# -- neighbouring SDK features ----------------------------------------------------------------

@dsl.component
def produce() -> str:
    return "hello"


@dsl.container_component
def env_echo(x: str, out: dsl.OutputPath(str)):  # type: ignore[valid-type, no-untyped-def]
    return dsl.ContainerSpec(image="alpine:3", command=["sh", "-c", 'echo "$MYVAR|$JOB" > "$0"'],
                             args=[out])


def test_env_variables_resolve_placeholders() -> None:
    @dsl.pipeline
    def p() -> str:
        t = env_echo(x=produce().output)
        t.set_env_variable("MYVAR", "{{$.inputs.parameters['x']}}")
        t.set_env_variable("JOB", "{{$.pipeline_job_name}}")
        return t.outputs["out"]

    run = flowyard.run(p, run_name="envrun")
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"].strip() == "hello|envrun"


@dsl.container_component
def concat_opt(out: dsl.OutputPath(str), opt: str = None):  # type: ignore[valid-type, no-untyped-def, assignment]  # noqa: RUF013
    return dsl.ContainerSpec(
        image="alpine:3", command=["sh", "-c", 'printf "%s" "$1" > "$0"'],
        args=[out, dsl.ConcatPlaceholder([
            "pre-", dsl.IfPresentPlaceholder(input_name="opt", then=opt, else_="none"),
            "-post"])])


def test_if_present_inside_concat() -> None:
    @dsl.pipeline
    def p():
        concat_opt().set_display_name("absent")
        concat_opt(opt="given").set_display_name("present")

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.task("absent").outputs["parameters"]["out"] == "pre-none-post"
    assert run.task("present").outputs["parameters"]["out"] == "pre-given-post"


@dsl.component
def ws_write(path: str = dsl.WORKSPACE_PATH_PLACEHOLDER) -> str:
    import os

    with open(os.path.join(path, "shared.txt"), "w") as f:
        f.write("from the first task")
    return "written"


@dsl.component
def ws_read(path: str = dsl.WORKSPACE_PATH_PLACEHOLDER) -> str:
    import os

    with open(os.path.join(path, "shared.txt")) as f:
        return f.read()


def test_a_pipeline_workspace_is_shared_by_its_tasks() -> None:
    @dsl.pipeline(pipeline_config=dsl.PipelineConfig(
        workspace=dsl.WorkspaceConfig(size="1Gi")))
    def p() -> str:
        first = ws_write()
        return ws_read().after(first).output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "from the first task"
    assert json.dumps(run.outputs)  # plain JSON, as the REST API returns it
