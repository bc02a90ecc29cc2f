"""Issue 8, API robustness: each of these requests was a 500 (and the 500 dropped the
keep-alive connection). Each is now a 4xx whose message names the field, nothing is stored,
and the connection serves the next request. Against a real `flowyard up`, SQLite and
PostgreSQL."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from kfp import compiler

from tests.api.components import adder
from tests.api.conftest import Server
from tests.security.test_crashes import _exchange

API = "/apis/v2beta1"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def http(request: pytest.FixtureRequest, fy_home: Path) -> Iterator[httpx.Client]:
    if request.param == "postgres":
        request.getfixturevalue("pg_url")
    srv = Server(fy_home).start()
    with httpx.Client(base_url=srv.url, timeout=30) as client:
        yield client
    srv.stop()


def _token(doc: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def _experiments(http: httpx.Client) -> list[str]:
    return [e["display_name"] for e in http.get(f"{API}/experiments").json().get(
        "experiments", [])]


def _bad(answer: httpx.Response, *words: str) -> dict[str, Any]:
    assert 400 <= answer.status_code < 500, answer.text
    body = answer.json()
    for word in words:
        assert word in body["message"], body["message"]
    return dict(body)


def test_lone_surrogates_are_refused_naming_the_field(http: httpx.Client) -> None:
    # The client's own JSON encoder writes a lone surrogate as the escape "\ud800".
    _bad(http.post(f"{API}/experiments", content=b'{"display_name": "\\ud800"}',
                   headers=JSON), "display_name", "surrogate")
    _bad(http.post(f"{API}/experiments", content=b'{"display_name": "ok", '
                   b'"description": "x\\udfff"}', headers=JSON), "description")
    _bad(http.post(CONFIGMAPS, content=b'{"apiVersion": "v1", "kind": "ConfigMap", '
                   b'"metadata": {"name": "c"}, "data": {"k": "\\ud800"}}', headers=JSON),
         "data.k")
    assert _experiments(http) == []
    assert http.get(CONFIGMAPS).json()["items"] == []
    # A pair is a character like any other.
    ok = http.post(f"{API}/experiments", content=b'{"display_name": "\\ud83d\\ude00"}',
                   headers=JSON)
    assert ok.status_code == 200 and ok.json()["display_name"] == "\U0001F600"


def test_bad_page_tokens_are_refused(http: httpx.Client) -> None:
    for token in (_token({"offset": 10**27}), _token({"offset": -1}),
                  _token({"offset": 1, "sort": "created_at desc", "after": {}}),
                  _token({"offset": 1, "sort": "created_at desc", "after": ["value", {}, []]}),
                  _token({"offset": 1, "sort": "created_at desc", "after": ["value", 5, "x"]}),
                  _token({"offset": 1, "sort": "created_at desc", "after": ["time", "x", "y"]}),
                  _token({"offset": 1, "sort": "created_at desc",
                          "after": ["time", "2026-01-01T00:00:00\ud800", "x"]}),
                  "not-base64!", _token([1])):  # type: ignore[arg-type]
        _bad(http.get(f"{API}/experiments", params={"page_token": token}), "page_token")
        _bad(http.get(f"{API}/runs", params={"page_token": token}), "page_token")


def test_filter_values_out_of_range_are_refused(http: httpx.Client) -> None:
    def flt(**pred: Any) -> dict[str, str]:
        return {"filter": json.dumps({"predicates": [pred]})}

    huge = 99999999999999999999
    _bad(http.get(f"{API}/experiments", params=flt(
        key="created_at", operation="GREATER_THAN", int_value=huge)), "created_at", "64 bits")
    _bad(http.get(f"{API}/experiments", params=flt(
        key="created_at", operation="GREATER_THAN", int_value=10**17)), "created_at")
    _bad(http.get(f"{API}/runs", params=flt(
        key="name", operation="EQUALS", string_value="\ud800")), "string_value")
    _bad(http.get(f"{API}/pipelines", params=flt(
        key="name", operation="EQUALS", string_value={"a": 1})), "name")
    # A string column compared with a large integer is just a string that matches nothing.
    assert http.get(f"{API}/experiments", params=flt(
        key="name", operation="EQUALS", int_value=huge)).status_code == 200


def test_json_patch_indexes_are_checked(http: httpx.Client) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
          "data": {"k": "v"}, "spec": {"a": [1, 2]}}
    assert http.post(CONFIGMAPS, json=cm).status_code == 201
    patch = {"Content-Type": "application/json-patch+json"}
    for op, path in [("replace", "/spec/a/99999999999999999999"),
                     ("add", "/spec/a/99999999999999999999"), ("add", "/spec/a/-1"),
                     ("add", "/spec/a/01"), ("remove", "/spec/a/2"), ("replace", "/spec/a/-"),
                     ("add", "/data/k/x")]:
        got = _bad(http.patch(f"{CONFIGMAPS}/c", content=json.dumps(
            [{"op": op, "path": path, "value": 0}]), headers=patch), path)
        assert got["kind"] == "Status" and got["code"] == 400
    assert http.get(f"{CONFIGMAPS}/c").json()["spec"] == {"a": [1, 2]}
    ok = http.patch(f"{CONFIGMAPS}/c", content=json.dumps(
        [{"op": "add", "path": "/spec/a/2", "value": 3}, {"op": "add", "path": "/spec/a/-",
                                                         "value": 4}]), headers=patch)
    assert ok.status_code == 200 and ok.json()["spec"] == {"a": [1, 2, 3, 4]}


def test_deep_documents_are_refused(http: httpx.Client) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}, "data": {}}
    assert http.post(CONFIGMAPS, json=cm).status_code == 201
    deep = '{"spec": ' + '{"a": ' * 20_000 + "1" + "}" * 20_001
    got = _bad(http.patch(f"{CONFIGMAPS}/d", content=deep,
                          headers={"Content-Type": "application/merge-patch+json"}), "deeper")
    assert got["kind"] == "Status"
    _bad(http.post(f"{API}/experiments", content='{"display_name": "x", "d": ' + "[" * 20_000
                   + "]" * 20_000 + "}", headers=JSON), "deeper")
    assert "x" not in _experiments(http)


def test_kfp_names_are_refused_as_kfp_refuses_them(http: httpx.Client, tmp_path: Path) -> None:
    path = tmp_path / "adder.yaml"
    compiler.Compiler().compile(adder, str(path))
    spec = yaml.safe_load(path.read_text())
    _bad(http.post(f"{API}/experiments", json={"display_name": "a\u0000b"}), "display_name",
         "NUL")
    _bad(http.post(f"{API}/experiments", json={"display_name": "x" * 129}), "128 bytes")
    _bad(http.post(f"{API}/pipelines", json={"display_name": "../../etc"}), "'..'")
    _bad(http.post(f"{API}/pipelines", json={"name": "a\u0000b"}), "NUL")
    _bad(http.post(f"{API}/pipelines/upload", params={"name": "../x"},
                   files={"uploadfile": ("p.yaml", path.read_bytes())}), "'..'")
    _bad(http.post(f"{API}/pipelines/create", json={
        "pipeline": {"name": "ok"}, "pipeline_version": {"name": "..", "pipeline_spec": spec}}),
        "pipeline_version.name")
    _bad(http.post(f"{API}/runs", json={"display_name": "r\u0000", "pipeline_spec": spec}),
         "display_name", "NUL")
    assert http.get(f"{API}/pipelines").json().get("pipelines") is None
    # KFP takes any other text as a display name: spaces, capitals, slashes, accents.
    for name in ("My Pipeline", "team/model v2", "Zürich+Ω", "a.b"):
        assert http.post(f"{API}/pipelines", json={"display_name": name}).status_code == 200


def test_kubernetes_names_are_dns_subdomains(http: httpx.Client) -> None:
    for name in ("a..b", "a.-b", "-a", "A", "a/b", "a\u0000"):
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
        assert 400 <= http.post(CONFIGMAPS, json=cm).status_code < 500, name
    assert http.get(f"{CONFIGMAPS}/..").status_code in (400, 404)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a.b-c.d"}}
    assert http.post(CONFIGMAPS, json=cm).status_code == 201


def test_one_connection_serves_every_bad_request(http: httpx.Client) -> None:
    """The 500s used to close the connection; the refusals keep it open."""
    url = httpx.URL(str(http.base_url))
    queries = [{"page_token": _token({"offset": 10**27})},
               {"filter": json.dumps({"predicates": [{
                   "key": "created_at", "operation": "EQUALS", "int_value": 10**20}]})},
               {"page_token": _token({"offset": 1, "sort": "created_at desc",
                                      "after": ["value", {}, []]})}]
    with socket.create_connection((url.host, url.port), timeout=30) as sock:
        for query in queries:
            status, _, _ = _exchange(sock, f"{API}/experiments?{urlencode(query)}")
            assert status == 400
        assert _exchange(sock, f"{API}/healthz")[0] == 200
