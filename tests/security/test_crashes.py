"""Issue 8, API robustness: an unexpected exception was a 500 whose message carried the
exception's text, and the server then dropped the keep-alive connection (Starlette's last
handler re-raises after answering). Now it is a JSON 500 with an incident id, the details
only in the server's log, and the connection goes on serving."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from flowyard.api.app import create_app
from tests.api.conftest import free_port

SECRET_TEXT = "SELECT value FROM secrets WHERE name='db-password'"


@pytest.fixture
def port() -> Iterator[int]:
    app = create_app(scheduler=False, recover=False)

    def boom() -> None:
        raise RuntimeError(SECRET_TEXT)

    # A route that fails as a bug would: the real app and middleware around it.
    app.add_api_route("/apis/v2beta1/boom", boom)
    app.add_api_route("/api/v1/boom", boom)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(10)


def _exchange(sock: socket.socket, path: str) -> tuple[int, dict[str, str], bytes]:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, body


def test_a_crash_is_a_json_500_and_the_connection_stays_open(
        port: int, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "flowyard.api"), socket.create_connection(
            ("127.0.0.1", port), timeout=30) as sock:
        status, headers, body = _exchange(sock, "/apis/v2beta1/boom")
        assert status == 500 and headers["content-type"] == "application/json"
        doc = json.loads(body)
        assert doc["code"] == 13 and "internal error" in doc["message"]
        assert "SELECT" not in body.decode() and "Traceback" not in body.decode()
        # The same connection answers the next request: nothing was reset.
        status, _, body = _exchange(sock, "/api/v1/boom")
        kube = json.loads(body)
        assert status == 500 and kube["kind"] == "Status" and kube["code"] == 500
        status, _, _ = _exchange(sock, "/apis/v2beta1/healthz")
        assert status == 200
    incident = doc["message"].split()[2].rstrip(":")
    logged = [r for r in caplog.records if incident in r.getMessage()]
    assert logged and logged[0].exc_info and SECRET_TEXT in str(logged[0].exc_info[1])
