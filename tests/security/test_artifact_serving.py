"""Issue 8, item 1: the server serves only what lies inside the artifact root.

Before: an artifact whose URI named any file (`dsl.importer(artifact_uri="file:///etc/passwd")`,
or a component setting its output's `.uri`, or a symlink or hard link in an output) was
returned by `/_flowyard/artifacts/{id}/download`, `/raw`, the artifact page's preview and a v1
ui-metadata `source:`, `$FLOWYARD_HOME/secret.key` and `flowyard.db` included. Now every such
read is refused (403, naming the file and why), importers copy a user's local file into the
store when imported, and refuse Flowyard's own files. Against a real `flowyard up`, on SQLite
and PostgreSQL."""


import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from tests.api.conftest import Server
from tests.security.helpers import artifact_id, spec_of, submit, tasks, wait

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
DL = "/_flowyard/artifacts"


@dsl.component
def point_at(target: str, out: Output[Artifact]) -> None:
    out.uri = target  # recorded as the artifact's URI, as KFP's executor output allows


@dsl.component
def link_to(target: str, hard: bool, out: Output[Artifact]) -> None:
    import os

    (os.link if hard else os.symlink)(target, out.path)


@dsl.component
def folder_with_link(target: str, out: Output[Artifact]) -> None:
    import os

    os.makedirs(out.path)
    with open(os.path.join(out.path, "ok.txt"), "w") as f:
        f.write("fine")
    os.symlink(target, os.path.join(out.path, "leak"))


@dsl.component
def v1_metadata(source: str, mlpipeline_ui_metadata: Output[Artifact]) -> None:
    import json

    with open(mlpipeline_ui_metadata.path, "w") as f:
        json.dump({"outputs": [{"type": "markdown", "source": source},
                               {"type": "table", "format": "csv", "header": ["a"],
                                "source": source}]}, f)


@dsl.component
def read_text(ds: Input[Dataset]) -> str:
    with open(ds.path) as f:
        return f.read()


@dsl.pipeline(name="leaky")
def leaky(passwd: str, key: str, db: str, db_or_key: str) -> None:
    point_at(target=passwd).set_display_name("uri-passwd")
    point_at(target=key).set_display_name("uri-key")
    point_at(target=db).set_display_name("uri-db")
    link_to(target=passwd, hard=False).set_display_name("symlink-passwd")
    link_to(target=key, hard=False).set_display_name("symlink-key")
    link_to(target=db_or_key, hard=True).set_display_name("hardlink-db")
    folder_with_link(target=key).set_display_name("folder")
    v1_metadata(source=passwd).set_display_name("ui-metadata")


@dsl.pipeline(name="imports")
def imports(outside: str, key: str, db: str, log: str) -> None:
    ok = dsl.importer(artifact_uri=outside, artifact_class=Dataset, reimport=True)
    ok.set_display_name("import-outside")
    read_text(ds=ok.output).set_display_name("read-import")
    for name, uri in (("import-key", key), ("import-db", db), ("import-log", log)):
        dsl.importer(artifact_uri=uri, artifact_class=Dataset).set_display_name(name)


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, fy_home: Path) -> Iterator[Server]:
    if request.param == "postgres":
        request.getfixturevalue("pg_url")
    srv = Server(fy_home).start()
    # A Secret makes the server write its key file, as any user's first Secret does.
    resp = httpx.post(f"{srv.url}/api/v1/namespaces/default/secrets", json={
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
        "stringData": {"token": "s3cr3t"}})
    assert resp.status_code == 201, resp.text
    assert (fy_home / "secret.key").exists()
    yield srv
    srv.stop()


def _refused(url: str, art: str, what: str) -> None:
    for route in ("download", "raw"):
        resp = httpx.get(f"{url}{DL}/{art}/{route}")
        assert resp.status_code == 403, (what, route, resp.status_code, resp.text[:200])
        assert "Flowyard does not read" in resp.text, resp.text


def test_only_the_artifact_root_is_served(server: Server, fy_home: Path, tmp_path: Path) -> None:
    key, db = fy_home / "secret.key", fy_home / "flowyard.db"
    key_bytes = key.read_bytes()
    passwd = Path("/etc/passwd").read_text()
    db_or_key = db if db.exists() else key  # PostgreSQL keeps no database file here
    run = wait(server.url, submit(server.url, spec_of(leaky, tmp_path), {
        "passwd": "/etc/passwd", "key": str(key), "db": str(db), "db_or_key": str(db_or_key)}))
    assert run["state"] == "SUCCEEDED", run
    for task in ("uri-passwd", "uri-key", "uri-db", "symlink-passwd", "symlink-key",
                 "hardlink-db"):
        art = artifact_id(run, task, "out")
        _refused(server.url, art, task)
        page = httpx.get(f"{server.url}/artifacts/{art}").text
        assert passwd.splitlines()[0] not in page and key_bytes.decode() not in page
        assert "Flowyard does not read" in page  # the preview names the refusal instead

    # A folder is zipped without the link that leaves the root; the zip says what it left out.
    import io
    import zipfile

    resp = httpx.get(f"{server.url}{DL}/{artifact_id(run, 'folder', 'out')}/download")
    assert resp.status_code == 200
    zf = zipfile.ZipFile(io.BytesIO(resp.content))
    assert sorted(zf.namelist()) == ["FLOWYARD-NOT-INCLUDED.txt", "ok.txt"]
    assert "leak" in zf.read("FLOWYARD-NOT-INCLUDED.txt").decode()
    assert key_bytes not in resp.content

    # A v1 visualization's `source: /etc/passwd` is named on the page, never read.
    meta = artifact_id(run, "ui-metadata", "mlpipeline_ui_metadata")
    page = httpx.get(f"{server.url}/artifacts/{meta}").text
    assert passwd.splitlines()[0] not in page
    assert page.count("Flowyard does not read /etc/passwd") == 2  # markdown and table


def test_importers_copy_a_users_file_and_refuse_flowyards(server: Server, fy_home: Path,
                                                         tmp_path: Path) -> None:
    outside = tmp_path / "rows.csv"
    outside.write_text("a,b\n1,2\n")
    first = wait(server.url, submit(server.url, spec_of(leaky, tmp_path), {
        "passwd": "/etc/passwd", "key": "", "db": "", "db_or_key": "/etc/passwd"}))
    other_log = next((fy_home / "logs" / first["run_id"]).rglob("*.log"))
    run = wait(server.url, submit(server.url, spec_of(imports, tmp_path), {
        "outside": f"file://{outside}", "key": f"file://{fy_home / 'secret.key'}",
        "db": str(fy_home / "flowyard.db"), "log": str(other_log)}))
    by_name = tasks(run)
    assert by_name["read-import"]["state"] == "SUCCEEDED", by_name["read-import"]
    for name, why in (("import-key", "database or key"), ("import-db", "FLOWYARD_HOME|database"),
                      ("import-log", "under FLOWYARD_HOME")):
        assert by_name[name]["state"] == "FAILED", by_name[name]
        import re

        assert re.search(why, by_name[name]["error"]["message"]), by_name[name]["error"]
        assert "never Flowyard's own" in by_name[name]["error"]["message"]
    # The user's file was copied in at import time: the run keeps its input.
    outside.write_text("changed after the run")
    art = artifact_id(run, "import-outside", "artifact")
    resp = httpx.get(f"{server.url}{DL}/{art}/download")
    assert resp.status_code == 200 and resp.text == "a,b\n1,2\n"
    assert os.path.exists(fy_home / "artifacts" / "_imports")
