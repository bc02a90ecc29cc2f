"""Refuse what a web page could make a browser send: requests for a Host this server was not
asked to answer (DNS rebinding), and cross-origin writes (POST/PUT/PATCH/DELETE of any content
type, websocket handshakes). Clients that are not browsers (kfp.Client, kubectl, curl) send no
Origin and a Host naming the address they dialled, so they pass."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from flowyard.api.errors import error_body
from flowyard.services.errors import ApiError, InvalidArgument

LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
ENV = "FLOWYARD_ALLOWED_HOSTS"
_DEFAULT_PORT = {"http": 80, "ws": 80, "https": 443, "wss": 443}


class Forbidden(ApiError):
    status, code = 403, 7  # gRPC PERMISSION_DENIED


class HostConfigError(ValueError):
    """The server was asked to listen where no Host could be checked."""


def split_host(value: str) -> tuple[str, int | None]:
    """A Host header (or an --allowed-host entry) as (lower-case name, port or None).
    Raises ValueError for what no client sends: a bad port, empty name, stray brackets."""
    value = value.strip().lower()
    port: int | None = None
    if value.startswith("["):
        name, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(value)
        ipaddress.IPv6Address(name)
        if rest:
            port = _port(rest[1:])
    elif value.count(":") > 1:  # a bare IPv6 address (as in --allowed-host ::1)
        name = str(ipaddress.IPv6Address(value))
    else:
        name, sep, raw_port = value.partition(":")
        if sep:
            port = _port(raw_port)
    name = name.rstrip(".")  # "localhost." is the same name as "localhost"
    if not name:
        raise ValueError(value)
    return name, port


def _port(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(raw)
    return int(raw)


@dataclass(frozen=True)
class HostPolicy:
    """Which Host headers are answered: `names` on any port, `exact` (name, port) pairs, or
    anything when `any_host`."""

    names: frozenset[str] = LOCAL_NAMES
    exact: frozenset[tuple[str, int]] = frozenset()
    any_host: bool = False

    @classmethod
    def build(cls, bind: str | None = None, allowed: Iterable[str] = (),
              env: str | None = None) -> HostPolicy:
        """The localhost names, the address the server binds (unless it is a wildcard), the
        `allowed` names and those in FLOWYARD_ALLOWED_HOSTS (comma-separated). '*' allows any
        Host. Bound to a wildcard address, the operator must name the hosts (or '*')."""
        entries = [a for a in allowed if a.strip()]
        raw_env = os.environ.get(ENV, "") if env is None else env
        entries += [e for e in raw_env.split(",") if e.strip()]
        names, exact, any_host = set(LOCAL_NAMES), set(), False
        for entry in entries:
            if entry.strip() == "*":
                any_host = True
                continue
            try:
                name, port = split_host(entry)
            except ValueError:
                raise HostConfigError(f"allowed host {entry!r}: expected NAME or NAME:PORT "
                                      "(an IPv6 address in brackets when it has a port)") from None
            if port is None:
                names.add(name)
            else:
                exact.add((name, port))
        if bind is not None:
            if bind.strip() in WILDCARD_BINDS:
                if not entries:
                    raise HostConfigError(
                        f"listening on {bind or 'every address'}: name the host names clients "
                        f"use with --allowed-host NAME (or {ENV}), or --allowed-host '*' to "
                        "answer any Host, which lets any web page reach this server through "
                        "DNS rebinding")
            else:
                names.add(split_host(bind)[0])
        return cls(frozenset(names), frozenset(exact), any_host)

    def allows(self, name: str, port: int | None) -> bool:
        return self.any_host or name in self.names or (
            port is not None and (name, port) in self.exact)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    # A repeated Host or Origin header is itself suspect; the first one decides, and a
    # request with two different ones is refused below.
    out: dict[bytes, bytes] = {}
    for key, value in scope["headers"]:
        if key in (b"host", b"origin") and key in out and out[key] != value:
            out[b"!" + key] = value
        out.setdefault(key, value)
    return out


def refusal(scope: Scope, policy: HostPolicy) -> tuple[int, str] | None:
    """Why this request must be refused (status, message), or None to let it through."""
    headers = _headers(scope)
    if b"!host" in headers or b"!origin" in headers:
        return 400, "the request carries two different Host or Origin headers"
    raw_host = headers.get(b"host", b"").decode("latin-1")
    try:
        host, host_port = split_host(raw_host)
    except ValueError:
        return 400, f"Host {raw_host!r}: not a host name or address"
    if not policy.allows(host, host_port):
        return 403, (f"Host {raw_host!r} is not a name this server answers to (localhost, "
                     f"127.0.0.1, [::1] and the address it listens on); start it with "
                     f"--allowed-host {host} (or set {ENV}) to serve it under that name")
    websocket = scope["type"] == "websocket"
    if not websocket and scope.get("method", "GET").upper() in SAFE_METHODS:
        return None
    what = "websocket connections" if websocket else f"{scope.get('method')} requests"
    if headers.get(b"sec-fetch-site", b"").lower() == b"cross-site":
        return 403, f"cross-site {what} are refused (Sec-Fetch-Site: cross-site)"
    raw_origin = headers.get(b"origin")
    if raw_origin is None:
        return None  # not a browser: browsers send Origin on every write and handshake
    origin = raw_origin.decode("latin-1")
    if not _same_origin(origin, host, host_port):
        return 403, (f"cross-origin {what} are refused: Origin {origin!r} is not this server "
                     f"({raw_host})")
    return None


def _same_origin(origin: str, host: str, host_port: int | None) -> bool:
    try:
        parts = urlsplit(origin)
        name, port = split_host(parts.netloc)
    except ValueError:
        return False  # includes "null", sent by sandboxed frames and file:// pages
    default = _DEFAULT_PORT.get(parts.scheme)
    if default is None or parts.path not in ("", "/") or parts.username or parts.password:
        return False
    # A Host without a port means the default port of the scheme the browser used: behind
    # a TLS proxy the server sees Host "name" while the page's Origin is https://name.
    return name == host and (port or default) == (host_port or default)


class HostOriginGuard:
    """ASGI middleware: answer only allowed Hosts, refuse cross-origin writes."""

    def __init__(self, app: ASGIApp, policy: HostPolicy | None = None) -> None:
        self.app = app
        self.policy = policy or HostPolicy.build()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        why = refusal(scope, self.policy)
        if why is None:
            await self.app(scope, receive, send)
            return
        status, message = why
        error = Forbidden(message) if status == 403 else InvalidArgument(message)
        body = json.dumps(error_body(scope.get("path", ""), error)).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": status,
                        "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # closing before accepting is answered with 403 by the server
            await send({"type": "websocket.close", "code": 1008})
