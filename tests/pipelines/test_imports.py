"""Importers of local files (flowyard/pipelines/imports.py): a file or folder outside the
artifact root is copied in at import time (bounded by FLOWYARD_IMPORT_MAX_BYTES), Flowyard's
own files are refused with a clear message, and a component's custom output path is copied
through the same guard. Real runs with the kfp SDK."""

import os
from pathlib import Path

import pytest
from kfp import dsl
from kfp.dsl import Dataset, Input, Output

import flowyard

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@dsl.component
def count_files(ds: Input[Dataset]) -> int:
    import os

    return sum(len(files) for _, _, files in os.walk(ds.path))


@dsl.pipeline
def import_folder(uri: str) -> int:
    imp = dsl.importer(artifact_uri=uri, artifact_class=Dataset, reimport=True)
    return count_files(ds=imp.output).output


def _importer(run: flowyard.Run) -> flowyard.Run:
    return next(t for t in run.tasks if t.kind == "importer")  # type: ignore[no-any-return]


def test_folder_is_copied_and_an_unchanged_one_reused(tmp_path: Path) -> None:
    src = tmp_path / "data"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_text("1")
    (src / "sub" / "b.csv").write_text("2")
    first = flowyard.run(import_folder, arguments={"uri": str(src)}, enable_caching=False)
    assert first.state == "SUCCEEDED", first.error
    assert first.outputs["Output"] == 2
    uri = _importer(first).outputs["artifacts"]["artifact"][0]["uri"]
    assert "/_imports/" in uri and Path(uri, "sub", "b.csv").read_text() == "2"
    again = flowyard.run(import_folder, arguments={"uri": str(src)}, enable_caching=False)
    assert _importer(again).outputs["artifacts"]["artifact"][0]["uri"] == uri  # same bytes
    (src / "sub" / "b.csv").write_text("changed")
    third = flowyard.run(import_folder, arguments={"uri": str(src)}, enable_caching=False)
    assert _importer(third).outputs["artifacts"]["artifact"][0]["uri"] != uri
    assert Path(uri, "sub", "b.csv").read_text() == "2"  # the first run keeps its input
    assert not list(Path(uri).parent.parent.glob("**/*.partial-*"))


def test_import_over_the_size_setting_is_refused(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWYARD_IMPORT_MAX_BYTES", "1000")
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 1001)
    run = flowyard.run(import_folder, arguments={"uri": f"file://{big}"})
    assert run.state == "FAILED"
    err = _importer(run).error or ""
    assert "1001 bytes, more than the 1000" in err and "FLOWYARD_IMPORT_MAX_BYTES" in err


def test_link_to_flowyards_files_inside_an_imported_folder_is_refused(fy_home: Path,
                                                                     tmp_path: Path) -> None:
    flowyard.run(import_folder, arguments={"uri": str(tmp_path)})  # the home exists now
    (fy_home / "secret.key").write_text("key")
    src = tmp_path / "innocent"
    src.mkdir()
    (src / "ok.csv").write_text("1")
    (src / "key").symlink_to(fy_home / "secret.key")
    os.link(fy_home / "flowyard.db", src / "copy.db")
    run = flowyard.run(import_folder, arguments={"uri": str(src)})
    assert run.state == "FAILED"
    err = _importer(run).error or ""
    assert "database or key files" in err and str(src) in err
    assert not list((fy_home / "artifacts").glob("_imports/*/innocent"))


@dsl.component
def custom_out(target: str, out: Output[Dataset]) -> None:
    out.set_path(target)


@dsl.pipeline
def custom(target: str) -> None:
    custom_out(target=target)


def test_custom_output_path_never_opens_the_database(fy_home: Path, tmp_path: Path) -> None:
    ok = tmp_path / "written-elsewhere.txt"
    ok.write_text("made by the component")
    run = flowyard.run(custom, arguments={"target": str(ok)})
    assert run.state == "SUCCEEDED", run.error
    art = run.tasks[0].outputs["artifacts"]["out"][0]
    assert Path(art["uri"]).read_text() == "made by the component"
    run = flowyard.run(custom, arguments={"target": str(fy_home / "flowyard.db")})
    assert run.state == "FAILED" and "database or key files" in (run.tasks[0].error or "")
