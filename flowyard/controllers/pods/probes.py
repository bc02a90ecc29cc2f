"""One probe attempt, as the kubelet makes it: httpGet to the pod's address, tcpSocket, exec
inside the container's sandbox (through the executor), grpc health checking (with grpcio)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

# exec probes run through the kubelet's callable: (argv, timeout) -> (exit code, output)
ExecFn = Callable[[list[str], float], Awaitable[tuple[int, str]]]


def _port(port: int | str, container: dict[str, Any]) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"port {port!r} names no port of container {container['name']}")


async def _http(probe: dict[str, Any], host: str, container: dict[str, Any],
                timeout: float) -> tuple[bool, str]:
    get = probe["httpGet"]
    port = _port(get["port"], container)
    scheme = (get.get("scheme") or "HTTP").lower()
    path = get.get("path") or "/"
    url = f"{scheme}://{get.get('host') or host}:{port}{path if path.startswith('/') else '/' + path}"
    headers = {"User-Agent": "kube-probe/1.32", "Accept": "*/*"}
    for h in get.get("httpHeaders") or []:
        headers[h["name"]] = h["value"]
    try:
        async with httpx.AsyncClient(verify=False, timeout=timeout, trust_env=False) as client:
            resp = await client.get(url, headers=headers)
    except httpx.TimeoutException:
        return False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while ' \
                      "awaiting headers)"
    except httpx.HTTPError as exc:
        return False, f'Get "{url}": {exc or type(exc).__name__}'
    if 200 <= resp.status_code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {resp.status_code}"


async def _tcp(probe: dict[str, Any], host: str, container: dict[str, Any],
               timeout: float) -> tuple[bool, str]:
    tcp = probe["tcpSocket"]
    port = _port(tcp["port"], container)
    addr = tcp.get("host") or host
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(addr, port), timeout)
    except (OSError, TimeoutError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "i/o timeout"
        return False, f"dial tcp {addr}:{port}: connect: {why}"
    writer.close()
    return True, ""


async def _grpc(probe: dict[str, Any], host: str, timeout: float) -> tuple[bool, str]:
    try:
        import grpc  # type: ignore[import-not-found]
        from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-not-found]
    except ImportError:
        return False, "grpc probes need grpcio and grpcio-health-checking (pip install them)"
    target = f"{host}:{probe['grpc']['port']}"

    def check() -> tuple[bool, str]:
        with grpc.insecure_channel(target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                resp = stub.Check(health_pb2.HealthCheckRequest(
                    service=probe["grpc"].get("service") or ""), timeout=timeout)
            except grpc.RpcError as exc:
                return False, f"failed to connect service {target!r} within {timeout:g}s: {exc}"
        if resp.status == health_pb2.HealthCheckResponse.SERVING:
            return True, ""
        return False, f"service unhealthy (responded with {resp.status})"

    return await asyncio.to_thread(check)


async def run_probe(probe: dict[str, Any], host: str, container: dict[str, Any],
                    exec_fn: ExecFn) -> tuple[bool, str]:
    """(success, the failure's message as the kubelet writes it)."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        if "httpGet" in probe:
            return await _http(probe, host, container, timeout)
        if "tcpSocket" in probe:
            return await _tcp(probe, host, container, timeout)
        if "grpc" in probe:
            return await _grpc(probe, host, timeout)
        if "exec" in probe:
            started = time.monotonic()
            code, output = await exec_fn(list(probe["exec"]["command"]), timeout)
            if code == 0:
                return True, ""
            if code < 0 or time.monotonic() - started >= timeout:
                return False, f"command timed out after {timeout:g}s"
            return False, output.strip() or f"command exited with {code}"
    except ValueError as exc:
        return False, str(exc)
    return False, "probe has no handler"


class ProbeState:
    """Consecutive successes and failures against the probe's thresholds."""

    def __init__(self, probe: dict[str, Any]) -> None:
        self.probe = probe
        self.success_threshold = int(probe.get("successThreshold") or 1)
        self.failure_threshold = int(probe.get("failureThreshold") or 3)
        self.period = float(probe.get("periodSeconds") or 10)
        self.initial_delay = float(probe.get("initialDelaySeconds") or 0)
        self.successes = 0
        self.failures = 0

    def record(self, ok: bool) -> str | None:
        """'success' or 'failure' when a threshold is crossed, else None."""
        if ok:
            self.failures = 0
            self.successes += 1
            return "success" if self.successes == self.success_threshold else None
        self.successes = 0
        self.failures += 1
        return "failure" if self.failures == self.failure_threshold else None
