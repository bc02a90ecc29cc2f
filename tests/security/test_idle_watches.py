"""Issue 8 item 4: 45 idle watches (`?watch=true&timeoutSeconds=20`) made /healthz take 17 s,
each holding a worker thread. Now a watch holds no thread: the server's thread count does not
grow with the watches, /healthz answers while they are open, and a client is bounded."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.kube.conftest import Cluster


def _threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def test_idle_watches_hold_no_threads(kube_server: Cluster) -> None:
    cluster = kube_server
    base = f"{cluster.url}/apis/kubeflow.org/v1/namespaces/default/tfjobs"
    health = f"{cluster.url}/apis/v2beta1/healthz"
    httpx.get(health).raise_for_status()
    before = _threads(cluster.pid)
    clients = [httpx.Client(timeout=10, limits=httpx.Limits(max_connections=50))
               for _ in range(3)]
    streams = []
    try:
        for i in range(45):
            s = clients[i % 3].stream("GET", base, params={"watch": "true",
                                                            "timeoutSeconds": "20"})
            assert s.__enter__().status_code == 200
            streams.append(s)
        during = _threads(cluster.pid)
        for _ in range(20):
            assert httpx.get(health, timeout=5).status_code == 200
        assert during - before < 10, (before, during)
        # the bound: 100 per client address
        for i in range(55):
            s = clients[i % 3].stream("GET", base, params={"watch": "true",
                                                            "timeoutSeconds": "20"})
            assert s.__enter__().status_code == 200
            streams.append(s)
        over = httpx.get(base, params={"watch": "true", "timeoutSeconds": "20"})
        assert over.status_code == 429 and over.json()["reason"] == "TooManyRequests"
        assert httpx.get(health, timeout=5).status_code == 200
    finally:
        for s in streams:
            s.__exit__(None, None, None)
        for c in clients:
            c.close()
