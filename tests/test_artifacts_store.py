"""The artifact store: no name a pipeline can produce (task names, output names, loop
indices) makes a path that escapes the artifact root, local or remote."""

import os
from pathlib import Path

import pytest

from flowyard.artifacts import ArtifactPathError, ArtifactStore, safe_segment

HOSTILE = ["..", ".", "", "../../etc", "/etc/passwd", "a/../../b", "~root", "..\\..\\x",
           "x/../..", "\x00nul", "ok-name_1.2", "[0]", "名前"]


@pytest.mark.parametrize("name", HOSTILE)
def test_segments_never_climb(name: str) -> None:
    seg = safe_segment(name)
    assert seg not in ("", ".", "..")
    assert "/" not in seg and "\\" not in seg and "\x00" not in seg
    assert not seg.startswith(".")


def test_safe_names_are_kept() -> None:
    assert safe_segment("train-model") == "train-model"
    assert safe_segment("loop-item=3") == "loop-item=3"
    assert safe_segment("[0]") == "[0]"


@pytest.mark.parametrize("name", HOSTILE)
def test_local_uris_stay_inside_the_root(tmp_path: Path, name: str) -> None:
    store = ArtifactStore(str(tmp_path / "root"))
    uri = store.uri_for("run", name, name, "out")
    root = (tmp_path / "root").resolve()
    assert Path(uri).resolve().is_relative_to(root)
    assert store.contains(uri)
    assert store.check_inside(uri) == uri


def test_paths_outside_the_root_are_refused(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "root"))
    for outside in (str(tmp_path / "elsewhere"), str(tmp_path / "root" / ".." / "x"),
                    str(tmp_path / "root-sibling" / "x"), "/etc/passwd"):
        assert not store.contains(outside)
        with pytest.raises(ArtifactPathError, match="outside the artifact root"):
            store.check_inside(outside)


def test_a_symlink_out_of_the_root_is_outside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = ArtifactStore(str(root))
    (tmp_path / "secret").mkdir()
    os.symlink(tmp_path / "secret", root / "link")
    assert not store.contains(str(root / "link" / "file"))


@pytest.mark.parametrize("name", HOSTILE)
def test_remote_uris_stay_under_the_prefix(name: str) -> None:
    store = ArtifactStore("memory://bucket/prefix")
    assert not store.is_local
    uri = store.uri_for("run", name, "out")
    assert uri.startswith("memory://bucket/prefix/run/")
    assert "/../" not in uri and not uri.endswith("/..")
    assert store.contains(uri)


def test_remote_prefix_is_not_a_string_prefix() -> None:
    store = ArtifactStore("memory://bucket/prefix")
    assert not store.contains("memory://bucket/prefix-other/x")
    assert not store.contains("memory://bucket/prefix")
    assert store.contains("memory://bucket/prefix/x")


def test_remote_round_trip(tmp_path: Path) -> None:
    store = ArtifactStore("memory://flowyard-test-bucket/root")
    local = tmp_path / "model"
    local.mkdir()
    (local / "weights.bin").write_bytes(b"\x01\x02")
    uri = store.uri_for("run-1", "train", "model")
    store.upload(str(local), uri)
    assert store.exists(uri)
    back = tmp_path / "back" / "model"
    store.download(uri, str(back))
    assert (back / "weights.bin").read_bytes() == b"\x01\x02"
    store.remove(uri)
    assert not store.exists(uri)


def test_a_hostile_task_name_in_a_pipeline_stays_inside(fy_home: Path) -> None:
    from kfp import dsl
    from kfp.dsl import Dataset, Output

    import flowyard
    from flowyard.pipelines.loader import load_pipeline

    @dsl.component
    def produce(out: Output[Dataset]) -> None:
        with open(out.path, "w") as f:
            f.write("data")

    @dsl.pipeline
    def p():
        produce()

    doc = load_pipeline(p)
    tasks = doc.spec["root"]["dag"]["tasks"]
    tasks["../../../escape"] = tasks.pop("produce")
    run = flowyard.run(doc)
    assert run.state == "SUCCEEDED", run.error
    uri = Path(run.tasks[0].outputs["artifacts"]["out"][0]["uri"])
    assert uri.read_text() == "data"
    assert uri.resolve().is_relative_to((fy_home / "artifacts").resolve())
    assert not (fy_home.parent / "escape").exists()
    log = Path(str(run.tasks[0].log_path))
    assert log.resolve().is_relative_to(fy_home.resolve())


def test_remote_root_serves_only_what_lies_under_it(fy_home: Path) -> None:
    from flowyard.file_guard import RefusedPath

    store = ArtifactStore("s3://bucket/fy")
    assert store.readable("s3://bucket/fy/run/out") == "s3://bucket/fy/run/out"
    for uri in ("s3://bucket/fyx/out", "s3://bucket/other", "s3://bucket/fy/../secrets",
                "gs://bucket/fy/out", "/etc/passwd", str(fy_home / "secret.key")):
        with pytest.raises(RefusedPath):
            store.readable(uri)
