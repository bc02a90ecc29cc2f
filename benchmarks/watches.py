#!/usr/bin/env python3
"""/healthz latency with idle watches open (issue 8 item 4: 45 idle watches made /healthz
take 17 s, each holding a worker thread; the bar is p99 < 50 ms with 100 open).

Starts `flowyard up` on a free port with a fresh FLOWYARD_HOME, times GET
/apis/v2beta1/healthz over HTTP (httpx, keep-alive) with 0 watches open, then opens N idle
watches (`GET /api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=...`, each its
own connection, read by one asyncio loop) and times again, side by side; then writes one
ConfigMap and checks every watch saw it. Prints a table; asserts nothing.

    python benchmarks/watches.py [--watches 100] [--samples 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
HEALTHZ = "/apis/v2beta1/healthz"
WATCH = "/api/v1/namespaces/default/configmaps"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(home: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FLOWYARD_HOME": home, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "flowyard.cli.main", "up", "--port",
                             str(port), "--log-level", "warning"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{HEALTHZ}", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("flowyard up did not start")


def _times(base: str, samples: int) -> list[float]:
    out = []
    with httpx.Client(base_url=base, timeout=60) as c:
        c.get(HEALTHZ)
        for _ in range(samples):
            t0 = time.perf_counter()
            c.get(HEALTHZ).raise_for_status()
            out.append((time.perf_counter() - t0) * 1000)
    return out


class Watches:
    """N watches held open by one asyncio loop in a thread; counts the events each saw."""

    def __init__(self, base: str, n: int, seconds: int) -> None:
        self.base, self.n, self.seconds = base, n, seconds
        self.open = 0
        self.seen = [0] * n
        self.refused = 0
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _one(self, client: httpx.AsyncClient, i: int) -> None:
        params = {"watch": "true", "timeoutSeconds": str(self.seconds), "resourceVersion": "0"}
        async with client.stream("GET", WATCH, params=params) as resp:
            if resp.status_code != 200:
                self.refused += 1
                return
            self.open += 1
            if self.open == self.n:
                self.ready.set()
            async for line in resp.aiter_lines():
                if line.strip():
                    self.seen[i] += 1

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=self.n + 10, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=self.base, timeout=None, limits=limits) as c:
            await asyncio.gather(*(self._one(c, i) for i in range(self.n)),
                                 return_exceptions=True)
        self.ready.set()


def _row(label: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return (f"| {label} | {statistics.median(ms):.1f} | {q[94]:.1f} | {q[98]:.1f} | "
            f"{max(ms):.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--watches", type=int, default=100)
    ap.add_argument("--samples", type=int, default=300)
    args = ap.parse_args()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as home:
        proc = _start(home, port)
        try:
            idle = _times(base, args.samples)
            watches = Watches(base, args.watches, seconds=600)
            watches.thread.start()
            watches.ready.wait(60)
            time.sleep(1.0)
            loaded = _times(base, args.samples)
            cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ping"},
                  "data": {"a": "b"}}
            httpx.post(base + WATCH, json=cm).raise_for_status()
            time.sleep(1.5)
            saw = sum(1 for s in watches.seen if s >= 1)
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"GET {HEALTHZ}, {args.samples} samples each, milliseconds "
          f"(flowyard up on this machine, keep-alive)\n")
    print("| watches open | p50 | p95 | p99 | max |")
    print("| --- | --- | --- | --- | --- |")
    print(_row("0", idle))
    print(_row(f"{watches.open} (idle)", loaded))
    print(f"\n{watches.open} watches opened, {watches.refused} refused; {saw} of them saw the "
          "ConfigMap written afterwards")


if __name__ == "__main__":
    main()
