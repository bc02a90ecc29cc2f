"""Pod sandboxes (issue 9): each pod its own address, so two pods both listen on 8080 and the
host reaches each; a pod resolves the names set_hosts gives it; sandboxes are idempotent and
found again by a new executor (a restarted control plane)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import urllib.request
import uuid

import pytest

from flowyard.executors import get_executor
from flowyard.executors.base import LogRef, Resources, Work
from flowyard.executors.local import LocalExecutor
from flowyard.executors.network import can_use_netns

TINY = Resources(cpu=0.1)  # admission must not make the probe wait behind the servers
SERVE = ("import http.server, socket, sys\n"
         "class H(http.server.BaseHTTPRequestHandler):\n"
         "    def do_GET(self):\n"
         "        body = (socket.gethostname() + ' ' + sys.argv[1]).encode()\n"
         "        self.send_response(200); self.end_headers(); self.wfile.write(body)\n"
         "    def log_message(self, *a): pass\n"
         "http.server.HTTPServer((sys.argv[2], 8080), H).serve_forever()\n")


def _get(url: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_two_pods_listen_on_8080_and_the_host_reaches_each() -> None:
    ex = get_executor()
    ids = [f"t{uuid.uuid4().hex[:10]}" for _ in range(2)]

    async def go() -> None:
        boxes = [await ex.create_sandbox(i, f"pod-{n}") for n, i in enumerate(ids)]
        try:
            assert boxes[0].ip != boxes[1].ip
            again = await LocalExecutor().create_sandbox(ids[0], "pod-0")  # idempotent
            assert again.ip == boxes[0].ip
            handles = []
            for n, box in enumerate(boxes):
                bind = "0.0.0.0" if can_use_netns() else box.ip
                w = Work(f"serve-{ids[n]}", [sys.executable, "-c", SERVE, str(n), bind],
                         dict(os.environ), "", log=LogRef(("pods", "default", ids[n], "web")),
                         sandbox=box.id, resources=TINY)
                handles.append(await ex.submit(w))
            try:
                for n, box in enumerate(boxes):
                    got = await asyncio.to_thread(_get, f"http://{box.ip}:8080/")
                    expected_host = f"pod-{n}" if can_use_netns() else got.split()[0]
                    assert got == f"{expected_host} {n}"
                # One pod reaches the other by a name its hosts file gives it.
                await ex.set_hosts(ids[0], {"my-svc": boxes[1].ip,
                                            "my-svc.default.svc.cluster.local": boxes[1].ip})
                probe = Work(f"probe-{ids[0]}", [sys.executable, "-c",
                             "import urllib.request as u; print(u.urlopen("
                             "'http://my-svc:8080/', timeout=5).read().decode())"],
                             dict(os.environ), "", log=LogRef(("pods", "default", ids[0], "p")),
                             sandbox=ids[0], resources=TINY)
                h = await ex.submit(probe)
                e = await h.wait_exit()
                out = b"".join([c async for c in ex.read_log(probe.log)])  # type: ignore[arg-type]
                assert e.code == 0, out
                assert out.decode().split()[-1] == "1"
                await ex.release(h)
            finally:
                for h in handles:
                    h.cancel(0)
                    await h.wait_exit()
                    await ex.release(h)
        finally:
            for i in ids:
                await ex.remove_sandbox(i)

    asyncio.run(go())
    if can_use_netns():
        assert not any(os.path.exists(f"/run/netns/fy-{i}") for i in ids)


def test_bad_sandbox_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="sandbox id"):
        asyncio.run(get_executor().create_sandbox("../etc", "x"))
