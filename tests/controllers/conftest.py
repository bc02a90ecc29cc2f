"""`flowyard up` as a subprocess, and the real `kubernetes` client pointed at it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The server fixtures of the API tests, shared here.
from tests.api.conftest import Server, server, server_factory  # noqa: F401

kubernetes = pytest.importorskip("kubernetes")


def api_client(url: str) -> Any:
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = url
    return client.ApiClient(cfg)


@pytest.fixture
def kube(server: Server) -> Iterator[Any]:  # noqa: F811
    api = api_client(server.url)
    yield api
    api.close()


def wait_for(check: Callable[[], Any], timeout: float = 60.0, every: float = 0.1,
             what: str = "condition") -> Any:
    """Poll until `check()` returns something truthy (no wall-clock assertion: a deadline
    only so a broken feature fails instead of hanging)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # the object may not exist yet
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def volume_dir(home: Path, name: str) -> Path:
    return home / "volumes" / name


def event_reasons(kube: Any, kind: str, name: str, namespace: str = "default"
                  ) -> list[tuple[str, str]]:
    """(reason, message) of an object's events, oldest first, as `kubectl describe` lists
    them (read as plain JSON: the Event kind's own shape is the kube-api's to fill in)."""
    import httpx

    resp = httpx.get(f"{kube.configuration.host}/api/v1/namespaces/{namespace}/events",
                     params={"fieldSelector": f"involvedObject.kind={kind},"
                                              f"involvedObject.name={name}"}, timeout=10)
    resp.raise_for_status()
    return [(e.get("reason", ""), e.get("message", "")) for e in resp.json()["items"]]
