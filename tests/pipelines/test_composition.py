"""Composition: pipelines as components, pipelines loaded from YAML, dsl.importer, v1
`component.yaml` files, and `packages_to_install`."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest
from kfp import compiler, components, dsl
from kfp.dsl import Dataset, Input, Output

import flowyard
from flowyard.store import open_store

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@dsl.component
def add(a: int, b: int) -> int:
    return a + b


@dsl.component
def split(text: str) -> NamedTuple("Parts", head=str, rest=str):  # type: ignore[valid-type]
    head, _, rest = text.partition(" ")
    parts = NamedTuple("Parts", head=str, rest=str)  # noqa: UP014
    return parts(head, rest)


@dsl.component
def write_text(text: str, out: Output[Dataset]) -> None:
    with open(out.path, "w") as f:
        f.write(text)


@dsl.component
def read_text(ds: Input[Dataset]) -> str:
    with open(ds.path) as f:
        return f.read()


@dsl.component
def read_meta(ds: Input[Dataset], key: str) -> str:
    return str(ds.metadata.get(key))


def params(task: flowyard.Run | object) -> dict[str, object]:
    return task.outputs["parameters"]  # type: ignore[attr-defined, no-any-return]


# pipelines as components -------------------------------------------------------------------
class Summary(NamedTuple):
    total: int
    head: str
    data: Dataset


@dsl.pipeline
def sub_pipeline(a: int, text: str) -> Summary:
    s = add(a=a, b=10)
    parts = split(text=text)
    w = write_text(text=parts.outputs["rest"])
    return Summary(total=s.output, head=parts.outputs["head"], data=w.outputs["out"])


def test_pipeline_as_component_with_outputs() -> None:
    @dsl.pipeline
    def parent(a: int = 1, text: str = "hello big world") -> NamedTuple(
            "Out", total=int, head=str, rest=str):
        sub = sub_pipeline(a=a, text=text)
        again = add(a=sub.outputs["total"], b=100)
        rest = read_text(ds=sub.outputs["data"])
        out = NamedTuple("Out", total=int, head=str, rest=str)  # noqa: UP014
        return out(total=again.output, head=sub.outputs["head"], rest=rest.output)

    run = flowyard.run(parent, arguments={"a": 5, "text": "hello big world"})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs == {"total": 115, "head": "hello", "rest": "big world"}
    sub = run.task("sub-pipeline")
    assert sub.kind == "dag" and sub.state == "SUCCEEDED"
    assert sub.outputs["parameters"] == {"total": 15, "head": "hello"}
    assert Path(sub.outputs["artifacts"]["data"][0]["uri"]).read_text() == "big world"


def test_pipeline_loaded_from_yaml_used_in_another_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "sub.yaml"
    compiler.Compiler().compile(sub_pipeline, str(path))
    loaded = components.load_component_from_file(str(path))

    @dsl.pipeline
    def parent(a: int) -> int:
        sub = loaded(a=a, text="x y z")
        read_text(ds=sub.outputs["data"])
        return add(a=sub.outputs["total"], b=1).output

    run = flowyard.run(parent, arguments={"a": 2})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == 13
    assert params(run.task("read-text"))["Output"] == "y z"


def test_compiled_yaml_file_runs_directly(tmp_path: Path) -> None:
    path = tmp_path / "sub.yaml"
    compiler.Compiler().compile(sub_pipeline, str(path))
    run = flowyard.run(str(path), arguments={"a": 1, "text": "a b"})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["total"] == 11 and run.outputs["head"] == "a"


# importer ------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["", "file://"])
def test_importer_of_local_file(tmp_path: Path, scheme: str) -> None:
    data = tmp_path / "data.txt"
    data.write_text("imported rows")

    @dsl.pipeline
    def p(uri: str) -> str:
        imp = dsl.importer(artifact_uri=uri, artifact_class=Dataset, reimport=True,
                           metadata={"source": "test"})
        return read_text(ds=imp.output).output

    run = flowyard.run(p, arguments={"uri": f"{scheme}{data}"})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "imported rows"
    imp = next(t for t in run.tasks if t.kind == "importer")
    art = imp.outputs["artifacts"]["artifact"][0]
    # A file outside the artifact root is copied in (docs/security.md): the run keeps it.
    root = Path(os.environ["FLOWYARD_HOME"], "artifacts")
    assert Path(art["uri"]).is_relative_to(root / "_imports") and art["uri"].endswith("/data.txt")
    assert Path(art["uri"]).read_text() == "imported rows"
    assert art["metadata"] == {"source": "test"}
    stored = [a for a in open_store().artifacts(run.id) if a.task_id == imp.id]
    assert [a.uri for a in stored] == [art["uri"]]
    assert data.read_text() == "imported rows"  # importing never moves or changes the file
    data.write_text("changed later")
    assert Path(art["uri"]).read_text() == "imported rows"


def test_importer_constant_uri(tmp_path: Path) -> None:
    data = tmp_path / "const.txt"
    data.write_text("constant")

    @dsl.pipeline
    def p() -> str:
        imp = dsl.importer(artifact_uri=str(data), artifact_class=Dataset)
        return read_text(ds=imp.output).output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "constant"


def test_importer_reimport_false_reuses_prior_metadata(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("rows")

    def pipeline(reimport: bool):  # type: ignore[no-untyped-def]
        @dsl.pipeline
        def p(uri: str, version: str) -> str:
            imp = dsl.importer(artifact_uri=uri, artifact_class=Dataset, reimport=reimport,
                               metadata={"version": version})
            return read_meta(ds=imp.output, key="version").output

        return p

    first = flowyard.run(pipeline(True), arguments={"uri": str(data), "version": "1"},
                         enable_caching=False)
    assert first.outputs["Output"] == "1", first.error
    again = flowyard.run(pipeline(False), arguments={"uri": str(data), "version": "2"},
                         enable_caching=False)
    assert again.state == "SUCCEEDED", again.error
    assert again.outputs["Output"] == "1"  # the artifact already known keeps its metadata
    fresh = flowyard.run(pipeline(True), arguments={"uri": str(data), "version": "3"},
                         enable_caching=False)
    assert fresh.outputs["Output"] == "3"


# v1 component.yaml -------------------------------------------------------------------
V1_COMPONENT = textwrap.dedent("""\
    name: Scale rows
    description: Multiplies every number in a file.
    inputs:
    - {name: factor, type: Integer}
    - {name: label, type: String, default: scaled}
    - {name: numbers, type: Dataset}
    outputs:
    - {name: scaled, type: Dataset}
    - {name: count, type: Integer}
    implementation:
      container:
        image: python:3.11
        command:
        - python3
        - -c
        - |
          import sys, os
          factor, label, src, dst, count = int(sys.argv[1]), sys.argv[2], *sys.argv[3:]
          nums = [int(x) for x in open(src).read().split()]
          os.makedirs(os.path.dirname(dst), exist_ok=True)
          open(dst, "w").write(label + ":" + " ".join(str(n * factor) for n in nums))
          os.makedirs(os.path.dirname(count), exist_ok=True)
          open(count, "w").write(str(len(nums)))
        - {inputValue: factor}
        - {inputValue: label}
        - {inputPath: numbers}
        - {outputPath: scaled}
        - {outputPath: count}
    """)

V1_ONLY_VALUES = textwrap.dedent("""\
    name: Greet
    inputs:
    - {name: who, type: String}
    - {name: times, type: Integer, default: '2'}
    outputs:
    - {name: greeting, type: String}
    implementation:
      container:
        image: alpine:3
        command:
        - sh
        - -ec
        - |
          mkdir -p "$(dirname "$2")"
          printf 'hello %s x%s' "$0" "$1" > "$2"
        - {inputValue: who}
        - {inputValue: times}
        - {outputPath: greeting}
    """)


def _scale_pipeline(scale):  # type: ignore[no-untyped-def]
    @dsl.pipeline
    def p(factor: int = 3) -> str:
        src = write_text(text="1 2 3")
        scaled = scale(factor=factor, numbers=src.outputs["out"])
        return read_text(ds=scaled.outputs["scaled"]).output

    return p


def test_v1_component_from_file(tmp_path: Path) -> None:
    path = tmp_path / "component.yaml"
    path.write_text(V1_COMPONENT)
    scale = components.load_component_from_file(str(path))
    run = flowyard.run(_scale_pipeline(scale), arguments={"factor": 3})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "scaled:3 6 9"
    assert params(run.task("scale-rows"))["count"] == 3


def test_v1_component_from_text() -> None:
    scale = components.load_component_from_text(V1_COMPONENT)
    run = flowyard.run(_scale_pipeline(scale), arguments={"factor": 10})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "scaled:10 20 30"


def test_v1_component_output_parameter_feeds_python_component() -> None:
    greet = components.load_component_from_text(V1_ONLY_VALUES)

    @dsl.component
    def shout(text: str) -> str:
        return text.upper()

    @dsl.pipeline
    def q(who: str) -> str:
        return shout(text=greet(who=who, times=3).outputs["greeting"]).output

    run = flowyard.run(q, arguments={"who": "ada"})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "HELLO ADA X3"


def test_cli_runs_a_v1_component_yaml_directly(tmp_path: Path, fy_home: Path) -> None:
    path = tmp_path / "component.yaml"
    path.write_text(V1_ONLY_VALUES)
    proc = subprocess.run(
        [sys.executable, "-m", "flowyard.cli.main", "run", str(path), "-p", "who=bob", "--json"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["state"] == "SUCCEEDED"
    assert result["outputs"]["greeting"] == "hello bob x2"
    assert (fy_home / "flowyard.db").exists()  # it ran in this test's own home


# packages_to_install --------------------------------------------------------------------
def test_packages_already_satisfied_run_in_place(fy_home: Path) -> None:
    @dsl.component(packages_to_install=["pyyaml", "packaging>=20"])
    def uses_yaml(text: str) -> str:
        import yaml

        return str(yaml.safe_load(text)["k"])

    @dsl.pipeline
    def p() -> str:
        return uses_yaml(text="k: v").output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "v"
    venvs = fy_home / "venvs"
    assert not venvs.exists() or not any(venvs.iterdir())


def test_package_that_cannot_be_installed_fails_naming_it(fy_home: Path) -> None:
    @dsl.component(packages_to_install=["flowyard-no-such-package-xyz"])
    def needs_missing() -> str:
        return "unreachable"

    @dsl.pipeline
    def p() -> str:
        return needs_missing().output

    run = flowyard.run(p)
    assert run.state == "FAILED"
    task = run.task("needs-missing")
    assert task.state == "FAILED"
    assert "flowyard-no-such-package-xyz" in (task.error or "")
    assert "flowyard-no-such-package-xyz" in (run.error or "")
    # no half-built environment is left to be picked up by the next run
    assert not [p for p in (fy_home / "venvs").glob("*") if (p / ".ready").exists()]


def test_package_install_failure_output_is_in_the_task_log() -> None:
    @dsl.component(packages_to_install=["flowyard-no-such-package-xyz"])
    def needs_missing() -> str:
        return "unreachable"

    @dsl.pipeline
    def p() -> str:
        return needs_missing().output

    run = flowyard.run(p)
    assert run.state == "FAILED"
    assert "flowyard-no-such-package-xyz" in run.logs("needs-missing")


def _wheel(folder: Path, name: str, version: str, module_source: str) -> Path:
    """A minimal pure-Python wheel, built by hand so the test needs no index and no network."""
    import base64
    import hashlib
    import zipfile

    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": module_source,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: flowyard-tests\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
    return wheel


def test_missing_package_installed_once_into_a_layered_venv(fy_home: Path, tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, "flowyard_probe_pkg", "1.0", "ANSWER = 42\n")

    @dsl.component(packages_to_install=[str(wheel)])
    def uses_probe(x: int) -> int:
        import yaml  # the current environment stays visible
        from flowyard_probe_pkg import ANSWER

        return ANSWER + x + len(yaml.safe_dump({}))

    @dsl.pipeline
    def p() -> int:
        a = uses_probe(x=1)
        return uses_probe(x=a.output).output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    expected_first = 42 + 1 + 3  # yaml.safe_dump({}) == "{}\n"
    assert run.outputs["Output"] == 42 + expected_first + 3
    ready = [v for v in (fy_home / "venvs").iterdir() if (v / ".ready").exists()]
    assert len(ready) == 1  # both tasks used the one environment
    again = flowyard.run(p, enable_caching=False)
    assert again.state == "SUCCEEDED", again.error
    assert [v for v in (fy_home / "venvs").iterdir() if (v / ".ready").exists()] == ready


V1_STRUCTURED = textwrap.dedent("""\
    name: Tag blob
    inputs:
    - {name: text, type: String}
    - {name: suffix, type: String, optional: true}
    - {name: blob}
    outputs:
    - {name: tagged}
    - {name: argc, type: Integer}
    implementation:
      container:
        image: busybox
        command:
        - sh
        - -ec
        - |
          mkdir -p "$(dirname "$3")" "$(dirname "$4")"
          printf '%s|%s|%s' "$1" "$(cat "$2")" "$6" > "$3"
          printf '%s' "$#" > "$4"
        - sh
        - {concat: [tag-, {inputValue: text}]}
        - {inputPath: blob}
        - {outputPath: tagged}
        - {outputPath: argc}
        - if:
            cond: {isPresent: suffix}
            then: [--suffix, {inputValue: suffix}]
    """)


def test_v1_component_concat_if_present_and_untyped_artifacts() -> None:
    from kfp.dsl import Artifact

    tag = components.load_component_from_text(V1_STRUCTURED)

    @dsl.component
    def make_blob(blob: Output[Artifact]) -> None:
        with open(blob.path, "w") as f:
            f.write("blobby")

    @dsl.component
    def read_blob(a: Input[Artifact]) -> str:
        with open(a.path) as f:
            return f.read()

    @dsl.pipeline
    def p() -> NamedTuple("Out", plain=str, suffixed=str, argc=int):  # type: ignore[valid-type]
        b = make_blob()
        plain = tag(text="a", blob=b.outputs["blob"])
        suffixed = tag(text="b", suffix="zz", blob=b.outputs["blob"])
        out = NamedTuple("Out", plain=str, suffixed=str, argc=int)  # noqa: UP014
        return out(plain=read_blob(a=plain.outputs["tagged"]).output,
                   suffixed=read_blob(a=suffixed.outputs["tagged"]).output,
                   argc=plain.outputs["argc"])

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["plain"] == "tag-a|blobby|"
    assert run.outputs["suffixed"] == "tag-b|blobby|zz"
    assert run.outputs["argc"] == 4  # the absent optional input dropped its arguments


def test_importer_uri_from_upstream_task(tmp_path: Path) -> None:
    data = tmp_path / "made.txt"

    @dsl.component
    def produce(path: str) -> str:
        with open(path, "w") as f:
            f.write("made upstream")
        return path

    @dsl.pipeline
    def p(path: str) -> str:
        made = produce(path=path)
        imp = dsl.importer(artifact_uri=made.output, artifact_class=Dataset)
        return read_text(ds=imp.output).output

    run = flowyard.run(p, arguments={"path": str(data)})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "made upstream"
