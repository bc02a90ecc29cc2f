"""The Service proxy, in-process: an asyncio TCP listener on each ClusterIP:port (and on
127.0.0.1:nodePort) forwarding each connection round-robin to a ready endpoint. A ClusterIP is
added to the loopback device (root: `ip addr add`), so the host and the pods (through their
default route) reach the address `kubectl get svc` shows."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import subprocess
from collections.abc import Sequence

log = logging.getLogger("flowyard.proxy")
_BUF = 64 * 1024


def add_address(ip: str) -> str | None:
    """Put `ip` on the loopback device; None when it is there, else why it could not be."""
    if ip.startswith("127."):
        return None  # all of 127/8 is local already
    try:
        out = subprocess.run(["ip", "addr", "add", f"{ip}/32", "dev", "lo"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run `ip addr add`: {exc}"
    if out.returncode and "File exists" not in out.stderr and "already assigned" not in out.stderr:
        return out.stderr.strip() or f"`ip addr add {ip}/32 dev lo` failed"
    return None


def remove_address(ip: str) -> None:
    if ip.startswith("127."):
        return
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run(["ip", "addr", "del", f"{ip}/32", "dev", "lo"], capture_output=True,
                       timeout=5)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_BUF):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class Listener:
    """One listening address; its backends can change while it listens."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.backends: list[tuple[str, int]] = []
        self._rr = itertools.count()
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, self.host, self.port,
                                                 reuse_address=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backends = list(self.backends)
        if not backends:
            writer.close()  # no ready endpoint: refused, as kube-proxy's REJECT rule does
            return
        for attempt in range(len(backends)):
            host, port = backends[(next(self._rr) + attempt) % len(backends)]
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), 5)
            except (OSError, TimeoutError):
                continue
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            return
        writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()


class Proxy:
    """Every Service's listeners, by (service uid, listening address)."""

    def __init__(self) -> None:
        self.listeners: dict[str, dict[tuple[str, int], Listener]] = {}

    async def sync(self, uid: str, routes: Sequence[tuple[str, int, list[tuple[str, int]]]]
                   ) -> list[str]:
        """Listen on each (host, port) and forward to its backends; close what is no longer
        wanted. Returns problems (an address that could not be listened on)."""
        mine = self.listeners.setdefault(uid, {})
        want = {(h, p): b for h, p, b in routes}
        problems = []
        for addr in list(mine):
            if addr not in want:
                await mine.pop(addr).close()
        for (host, port), backends in want.items():
            lst = mine.get((host, port))
            if lst is None:
                lst = Listener(host, port)
                try:
                    await lst.start()
                except OSError as exc:
                    problems.append(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
                    continue
                mine[(host, port)] = lst
            lst.backends = backends
        return problems

    def serves(self, uid: str, host: str) -> bool:
        """Whether this Service already listens on `host` (its address is in place)."""
        return any(h == host for h, _ in self.listeners.get(uid, {}))

    async def drop(self, uid: str) -> None:
        for lst in self.listeners.pop(uid, {}).values():
            await lst.close()

    async def close(self) -> None:
        hosts = {h for mine in self.listeners.values() for h, _ in mine}
        for uid in list(self.listeners):
            await self.drop(uid)
        for host in hosts:  # a later start adds them again
            await asyncio.to_thread(remove_address, host)
