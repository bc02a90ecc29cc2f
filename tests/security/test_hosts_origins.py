"""Issue 8, security item 3: `flowyard up` answered any Host (a page on evil.example that
rebinds its DNS name to 127.0.0.1 could read and drive it) and took a cross-origin multipart
upload (Origin: http://evil.example → 200, pipeline created). Against a real `flowyard up`:
foreign Hosts and cross-origin writes are refused, while what kfp.Client, kubectl and the
dashboard send still passes."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kfp import compiler
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.api.components import adder
from tests.api.conftest import Server

API = "/apis/v2beta1"
EVIL = "http://evil.example"


@pytest.fixture
def spec(tmp_path: Path) -> bytes:
    path = tmp_path / "adder.yaml"
    compiler.Compiler().compile(adder, str(path))
    return path.read_bytes()


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def _pipelines(http: httpx.Client) -> list[str]:
    body = http.get(f"{API}/pipelines").json()
    return [p["display_name"] for p in body.get("pipelines", [])]


def test_a_foreign_host_is_refused(server: Server, http: httpx.Client) -> None:
    for host in ("evil.example", f"evil.example:{server.port}", "127.0.0.1.nip.io",
                 "localhost.evil.example"):
        got = http.get(f"{API}/pipelines", headers={"Host": host})
        assert got.status_code == 403, host
        assert host.split(":")[0] in got.json()["message"]
        assert "--allowed-host" in got.json()["message"]
    # The dashboard is behind the same guard.
    page = http.get("/", headers={"Host": "evil.example"})
    assert page.status_code == 403
    # The resources API answers with a Kubernetes Status, as kubectl expects.
    kube = http.get("/api/v1/namespaces/default/secrets", headers={"Host": "evil.example"})
    assert kube.status_code == 403 and kube.json()["kind"] == "Status"
    assert kube.json()["reason"] == "Forbidden"


def test_localhost_names_on_any_port_are_answered(server: Server, http: httpx.Client) -> None:
    for host in (f"127.0.0.1:{server.port}", "127.0.0.1", f"localhost:{server.port}",
                 "LOCALHOST", f"[::1]:{server.port}", "localhost.:8080"):
        assert http.get(f"{API}/healthz", headers={"Host": host}).status_code == 200, host


def test_cross_origin_upload_is_refused_and_creates_nothing(
        http: httpx.Client, server: Server, spec: bytes) -> None:
    upload = {"uploadfile": ("adder.yaml", spec)}
    got = http.post(f"{API}/pipelines/upload", params={"name": "evil"}, files=upload,
                    headers={"Origin": EVIL})
    assert got.status_code == 403
    assert EVIL in got.json()["message"] and "cross-origin" in got.json()["message"]
    assert "evil" not in _pipelines(http)
    # A form a page can send without any CORS preflight, in each simple content type.
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        got = http.post(f"{API}/experiments", content=b'{"display_name": "evil"}',
                        headers={"Origin": EVIL, "Content-Type": content_type})
        assert got.status_code == 403, content_type
    # A browser that hides Origin still says where the request came from.
    got = http.post(f"{API}/pipelines/upload", params={"name": "evil2"}, files=upload,
                    headers={"Sec-Fetch-Site": "cross-site"})
    assert got.status_code == 403
    assert "evil2" not in _pipelines(http)
    # "null" is what sandboxed frames and file:// pages send.
    got = http.post(f"{API}/experiments", json={"display_name": "evil3"},
                    headers={"Origin": "null"})
    assert got.status_code == 403
    names = [e["display_name"] for e in http.get(f"{API}/experiments").json().get(
        "experiments", [])]
    assert not {"evil", "evil3"} & set(names)


def test_every_write_method_is_checked(http: httpx.Client) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "stringData": {"k": "v"}}
    base = "/api/v1/namespaces/default/secrets"
    assert http.post(base, json=secret).status_code == 201
    cross = {"Origin": EVIL}
    for method, path, kwargs in [
            ("POST", base, {"json": secret}),
            ("PUT", f"{base}/s", {"json": secret}),
            ("PATCH", f"{base}/s", {"content": b'{"stringData": {"k": "x"}}', "headers": {
                "Content-Type": "application/merge-patch+json", **cross}}),
            ("DELETE", f"{base}/s", {})]:
        kwargs.setdefault("headers", cross)
        got = http.request(method, path, **kwargs)
        assert got.status_code == 403, method
        assert got.json()["kind"] == "Status" and "cross-origin" in got.json()["message"]
    assert http.get(f"{base}/s").status_code == 200  # still there, unchanged
    # Reads are not refused for their Origin: nothing a page reads through them is new to
    # it, since the Host check already keeps rebinding pages out.
    assert http.get(f"{base}/s", headers=cross).status_code == 200


def test_same_origin_and_originless_writes_pass(http: httpx.Client, server: Server,
                                                spec: bytes) -> None:
    upload = {"uploadfile": ("adder.yaml", spec)}
    same = {"Origin": server.url}
    assert http.post(f"{API}/pipelines/upload", params={"name": "dash"}, files=upload,
                     headers=same).status_code == 200
    assert http.post(f"{API}/pipelines/upload", params={"name": "cli"},
                     files=upload).status_code == 200
    # localhost vs 127.0.0.1 are different origins, but each is its own Host's origin.
    assert http.post(f"{API}/experiments", json={"display_name": "viaLocalhost"},
                     headers={"Host": f"localhost:{server.port}",
                              "Origin": f"http://localhost:{server.port}",
                              "Sec-Fetch-Site": "same-origin"}).status_code == 200
    got = http.post(f"{API}/experiments", json={"display_name": "other-port"},
                    headers={"Origin": "http://127.0.0.1:1"})
    assert got.status_code == 403
    assert {"dash", "cli"} <= set(_pipelines(http))


def _socket_url(server: Server) -> str:
    return f"ws://127.0.0.1:{server.port}/_nicegui_ws/socket.io/?EIO=4&transport=websocket"


def test_dashboard_websocket_from_a_foreign_origin_is_refused(server: Server) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(_socket_url(server), origin=EVIL, open_timeout=10)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    # A rebinding page: the browser dials 127.0.0.1 and names evil.example in Host.
    rebound_url = _socket_url(server).replace("127.0.0.1", "evil.example")
    with socket.create_connection(("127.0.0.1", server.port)) as sock, pytest.raises(
            InvalidStatus) as rebound:
        connect(rebound_url, sock=sock, open_timeout=10)
    assert rebound.value.response.status_code == 403
    # The dashboard's own socket (same origin) is accepted: engine.io's open packet arrives.
    with connect(_socket_url(server), origin=server.url, open_timeout=10) as ws:  # type: ignore[arg-type]
        assert str(ws.recv(timeout=10)).startswith("0")


def test_allowed_host_option_and_environment(fy_home: Path) -> None:
    srv = Server(fy_home, {"FLOWYARD_ALLOWED_HOSTS": "box.lan, ci.lan:9999"},
                 ["--allowed-host", "flowyard.example"]).start()
    try:
        def status(host: str) -> int:
            return httpx.get(f"{srv.url}{API}/healthz", headers={"Host": host}).status_code

        assert status("flowyard.example:443") == 200
        assert status("box.lan") == 200
        assert status("ci.lan:9999") == 200
        assert status("ci.lan:8080") == 403  # named with a port: only that port
        assert status("evil.example") == 403
        # Allowed under a name, still same-origin only for writes.
        got = httpx.post(f"{srv.url}{API}/experiments", json={"display_name": "x"},
                         headers={"Host": "box.lan", "Origin": "http://evil.example"})
        assert got.status_code == 403
        assert httpx.post(f"{srv.url}{API}/experiments", json={"display_name": "x"},
                          headers={"Host": "box.lan",
                                   "Origin": "http://box.lan"}).status_code == 200
    finally:
        srv.stop()


def test_listening_on_every_address_needs_named_hosts(fy_home: Path) -> None:
    got = subprocess.run([sys.executable, "-m", "flowyard.cli.main", "up", "--host", "0.0.0.0",
                          "--port", "1"], capture_output=True, text=True, timeout=120)
    assert got.returncode == 2
    assert "--allowed-host" in got.stderr and "DNS rebinding" in got.stderr


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl")
def test_kubectl_reads_and_writes_pass(server: Server, http: httpx.Client) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "kc"},
              "stringData": {"a": "b"}}
    assert http.post("/api/v1/namespaces/default/secrets", json=secret).status_code == 201
    kubectl = ["kubectl", "--server", server.url]
    path = "/api/v1/namespaces/default/secrets/kc"
    got = subprocess.run([*kubectl, "get", "--raw", path], capture_output=True, text=True,
                         timeout=60)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["metadata"]["name"] == "kc"
    gone = subprocess.run([*kubectl, "delete", "--raw", path], capture_output=True, text=True,
                          timeout=60)
    assert gone.returncode == 0, gone.stderr
    assert http.get(path).status_code == 404
