"""Issue 8, item 13: a folder artifact was zipped whole, in memory, on the event loop before
the first byte was sent (113 MB froze /healthz for 3.4 s). Now the zip is built while it is
sent, in worker threads, a chunk at a time.

Shown by order and progress, not by clocks, against a real `flowyard up`: the client reads the
start of a 40 MiB folder download and stops; the server answers /healthz while the download
is paused mid-archive; a file at the end of the folder is then rewritten, and the archive the
client finally receives holds the rewritten bytes, so the server had not yet read it when it
answered. The archive is a correct zip of the folder."""

import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kfp import dsl
from kfp.dsl import Artifact, Output

from tests.api.conftest import Server
from tests.security.helpers import API, artifact_id, spec_of, submit, wait

BIG = 40 * 2**20


@dsl.component
def write_folder(size: int, out: Output[Artifact]) -> None:
    import os

    os.makedirs(os.path.join(out.path, "nested", "deeper"))
    with open(os.path.join(out.path, "big.bin"), "wb") as f:
        for _ in range(size // 2**20):
            f.write(os.urandom(2**20))  # incompressible: the archive is as large as the data
    with open(os.path.join(out.path, "nested", "deeper", "rows.csv"), "w") as f:
        f.write("a,b\n" * 1000)
    open(os.path.join(out.path, "nested", "empty"), "w").close()
    with open(os.path.join(out.path, "zz-last.txt"), "w") as f:
        f.write("as the component wrote it")


@dsl.pipeline(name="folder")
def folder(size: int) -> None:
    write_folder(size=size).set_display_name("write")


@pytest.fixture
def server(fy_home: Path) -> Iterator[Server]:
    srv = Server(fy_home).start()
    yield srv
    srv.stop()


def test_folder_streams_while_healthz_answers(server: Server, fy_home: Path,
                                              tmp_path: Path) -> None:
    run = wait(server.url, submit(server.url, spec_of(folder, tmp_path), {"size": BIG}))
    assert run["state"] == "SUCCEEDED", run
    art = artifact_id(run, "write", "out")
    last = next(fy_home.glob(f"artifacts/{run['run_id']}/**/zz-last.txt"))
    on_disk = last.parent

    received = bytearray()
    answered_at: list[int] = []  # download bytes received when each /healthz answered
    with httpx.Client(timeout=120) as client, client.stream(
            "GET", f"{server.url}/_flowyard/artifacts/{art}/download") as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/zip"
        chunks = resp.iter_raw(1 << 16)
        received += next(chunks)
        # Paused mid-download: the server still answers, and has not reached the last file.
        for _ in range(3):
            assert client.get(f"{server.url}{API}/healthz").status_code == 200
            answered_at.append(len(received))
        last.write_text("rewritten while the download was paused")
        for i, chunk in enumerate(chunks):
            received += chunk
            if i % 64 == 0:  # and keeps answering as the download goes on
                assert client.get(f"{server.url}{API}/healthz").status_code == 200
                answered_at.append(len(received))

    assert answered_at[0] < len(received) and len(set(answered_at)) > 3
    zf = zipfile.ZipFile(io.BytesIO(bytes(received)))
    assert zf.testzip() is None
    assert sorted(zf.namelist()) == ["big.bin", "nested/deeper/rows.csv", "nested/empty",
                                     "zz-last.txt"]
    assert zf.read("zz-last.txt") == b"rewritten while the download was paused"
    assert (hashlib.sha256(zf.read("big.bin")).hexdigest()
            == hashlib.sha256((on_disk / "big.bin").read_bytes()).hexdigest())
    assert zf.read("nested/deeper/rows.csv") == b"a,b\n" * 1000 and zf.read("nested/empty") == b""
