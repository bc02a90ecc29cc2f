"""Artifacts on S3: with FLOWYARD_ARTIFACT_ROOT=s3://..., outputs are uploaded after the task and
inputs downloaded before it; components still see local paths. Uses a real S3 API (moto's
server on loopback) through s3fs, the same path a MinIO user takes."""


import socket
from collections.abc import Iterator

import pytest
from kfp import dsl
from kfp.dsl import Dataset, Input, Output

import flowyard

moto_server = pytest.importorskip("moto.server")
s3fs = pytest.importorskip("s3fs")


@pytest.fixture
def s3_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(key, value)
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint})
    fs.mkdir("flowyard-test")
    monkeypatch.setenv("FLOWYARD_ARTIFACT_ROOT", "s3://flowyard-test/runs")
    s3fs.S3FileSystem.clear_instance_cache()
    yield "s3://flowyard-test/runs"
    s3fs.S3FileSystem.clear_instance_cache()
    server.stop()


@dsl.component
def produce(text: str, data: Output[Dataset]) -> None:
    with open(data.path, "w") as f:
        f.write(text * 3)
    data.metadata["chars"] = len(text) * 3


@dsl.component
def consume(data: Input[Dataset]) -> str:
    assert not data.path.startswith("s3"), data.path
    with open(data.path) as f:
        return f.read().upper()


@dsl.pipeline
def s3_pipeline(text: str = "ab"):
    consume(data=produce(text=text).outputs["data"])


def test_artifacts_round_trip_through_s3(s3_root: str) -> None:
    run = flowyard.run(s3_pipeline, {"text": "xy"})
    assert run.state == "SUCCEEDED", run.error
    art = run.task("produce").outputs["artifacts"]["data"][0]
    assert art["uri"].startswith(s3_root + "/")
    assert art["metadata"]["chars"] == 6
    fs = s3fs.S3FileSystem()
    assert fs.cat(art["uri"]) == b"xyxyxy"
    assert run.task("consume").outputs["parameters"]["Output"] == "XYXYXY"
