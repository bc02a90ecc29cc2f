"""The Host and Origin rules themselves (flowyard/api/hosts.py), request by request, on the
Scope each request arrives with."""

from __future__ import annotations

import pytest
from starlette.types import Scope

from flowyard.api.hosts import HostConfigError, HostPolicy, refusal, split_host


def _scope(host: str | None, method: str = "GET", origin: str | None = None,
           kind: str = "http", **extra: str) -> Scope:
    headers = [] if host is None else [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    headers += [(k.replace("_", "-").encode(), v.encode()) for k, v in extra.items()]
    return {"type": kind, "method": method, "headers": headers, "path": "/"}


@pytest.mark.parametrize(("raw", "parsed"), [
    ("127.0.0.1:8765", ("127.0.0.1", 8765)), ("LocalHost", ("localhost", None)),
    ("[::1]:80", ("::1", 80)), ("[::1]", ("::1", None)), ("::1", ("::1", None)),
    ("box.lan.", ("box.lan", None))])
def test_split_host(raw: str, parsed: tuple[str, int | None]) -> None:
    assert split_host(raw) == parsed


@pytest.mark.parametrize("raw", ["", ":80", "a:b", "a:0", "a:70000", "[::1", "[zz]:1", "[::1]x"])
def test_split_host_refuses_what_no_client_sends(raw: str) -> None:
    with pytest.raises(ValueError):
        split_host(raw)


def test_default_policy_is_the_localhost_names() -> None:
    policy = HostPolicy.build(env="")
    assert policy.allows("localhost", 1) and policy.allows("::1", None)
    assert policy.allows("127.0.0.1", 8765)
    assert not policy.allows("evil.example", 8765) and not policy.allows("0.0.0.0", 80)


def test_the_bound_address_is_allowed() -> None:
    assert HostPolicy.build("192.168.1.7", env="").allows("192.168.1.7", 8765)
    assert HostPolicy.build("::1", env="").allows("::1", 1)


@pytest.mark.parametrize("bind", ["0.0.0.0", "::"])
def test_a_wildcard_bind_needs_named_hosts(bind: str) -> None:
    with pytest.raises(HostConfigError, match="--allowed-host"):
        HostPolicy.build(bind, env="")
    assert HostPolicy.build(bind, ["box.lan"], env="").allows("box.lan", 1)
    assert not HostPolicy.build(bind, ["box.lan"], env="").allows(bind, 1)
    assert HostPolicy.build(bind, env="*").allows("anything.example", 1)


def test_a_bad_allowed_host_is_named() -> None:
    with pytest.raises(HostConfigError, match="'box:port'"):
        HostPolicy.build(None, ["box:port"], env="")


def test_refusals() -> None:
    local = HostPolicy.build(env="")
    assert refusal(_scope("127.0.0.1:1"), local) is None
    assert refusal(_scope(None), local) == (400, "Host '': not a host name or address")
    assert refusal(_scope("evil.example"), local)[0] == 403  # type: ignore[index]
    # Writes: same origin or no Origin pass; any other origin, "null", or a cross-site
    # fetch is refused, for every method that is not safe (unknown ones included).
    for method in ("POST", "PUT", "PATCH", "DELETE", "PROPFIND"):
        assert refusal(_scope("localhost:8", method, "http://localhost:8"), local) is None
        assert refusal(_scope("localhost:8", method), local) is None
        for origin in ("http://evil.example", "null", "http://localhost:9", "http://localhost",
                       "file://", "http://localhost:8/path", "http://u@localhost:8"):
            assert refusal(_scope("localhost:8", method, origin), local)[0] == 403, origin  # type: ignore[index]
        assert refusal(_scope("localhost:8", method, sec_fetch_site="cross-site"),
                       local)[0] == 403  # type: ignore[index]
    # Default ports: a Host without a port is the Origin scheme's default port.
    assert refusal(_scope("localhost", "POST", "http://localhost"), local) is None
    assert refusal(_scope("localhost", "POST", "https://localhost:443"), local) is None
    assert refusal(_scope("localhost:80", "POST", "http://localhost"), local) is None
    # Websocket handshakes are checked whatever their method.
    assert refusal(_scope("localhost:8", origin="http://evil.example", kind="websocket"),
                   local)[0] == 403  # type: ignore[index]
    assert refusal(_scope("localhost:8", origin="http://localhost:8", kind="websocket"),
                   local) is None


def test_two_different_hosts_are_refused() -> None:
    scope = _scope("localhost")
    scope["headers"].append((b"host", b"evil.example"))
    assert refusal(scope, HostPolicy.build(env=""))[0] == 400  # type: ignore[index]
