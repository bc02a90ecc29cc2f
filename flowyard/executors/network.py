"""Pod sandboxes: each pod gets its own network address, so two pods can both listen on 8080.

Where we may (root, or CAP_NET_ADMIN), a sandbox is a named network namespace `fy-<id>` (it
persists in /run/netns across restarts of the control plane) with loopback up and a veth
pair to the bridge `fy0` on the pod CIDR (10.244.0.0/16, Kubernetes' default; the bridge is
10.244.0.1 and the pods' gateway). The host reaches every pod through the bridge's route.
Addresses are handed out machine-wide (one file per address in /run/flowyard/ipam, created
exclusively), as CNI's host-local IPAM does. All of it is done in this process, over netlink
(pyroute2) from a short-lived thread that enters the new namespace, not by `ip` processes
(three of them cost ~300 ms on a loaded machine; this costs a few ms).

Elsewhere a sandbox is a distinct loopback address (127.1.x.y; Linux routes all of 127/8 to
lo): the pod's processes must listen on it (its POD_IP) rather than on 0.0.0.0.

Every sandbox has its own /etc/hosts and /etc/hostname (`$FLOWYARD_HOME/run/sandboxes/<id>/`),
bind-mounted into each of its containers' mount namespaces (/etc/resolv.conf stays the host's),
and its containers get the pod's hostname in a UTS namespace of their own.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import ipaddress
import itertools
import json
import os
import re
import shutil
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from flowyard.executors.base import Sandbox

if TYPE_CHECKING:
    from pyroute2 import IPRoute

CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
NETNS_DIR = Path("/run/netns")
IPAM_DIR = Path("/run/flowyard/ipam")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_lock = threading.Lock()


def bridge_name() -> str:
    return os.environ.get("FLOWYARD_POD_BRIDGE", "fy0")


def pod_cidr() -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(os.environ.get("FLOWYARD_POD_CIDR", "10.244.0.0/16"))


def check_sandbox_id(sandbox_id: str) -> str:
    if not isinstance(sandbox_id, str) or not _ID.fullmatch(sandbox_id):
        raise ValueError(f"sandbox id {sandbox_id!r} is not valid: expected 1-100 letters, "
                         "digits, '.', '_' or '-', starting with a letter or digit")
    return sandbox_id


def netns_name(sandbox_id: str) -> str:
    return f"fy-{sandbox_id}"


def _veth(sandbox_id: str) -> str:
    # Interface names are at most 15 bytes.
    return "fyv" + hashlib.sha1(sandbox_id.encode()).hexdigest()[:11]


def can_use_netns() -> bool:
    if os.environ.get("FLOWYARD_SANDBOX", "").strip() == "loopback":
        return False
    return os.geteuid() == 0 and sys_has_netns() and find_spec("pyroute2") is not None


def sys_has_netns() -> bool:
    return Path("/proc/self/ns/net").exists()


@dataclass
class Record:
    id: str
    hostname: str
    ip: str
    mode: str  # "netns" | "loopback"
    hosts: dict[str, str] = field(default_factory=dict)

    def sandbox(self) -> Sandbox:
        return Sandbox(self.id, self.hostname, self.ip, dict(self.hosts))


MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 2


def _check(result: int, what: str) -> None:
    if result != 0:
        from flowyard.executors.mounts import libc  # noqa: F401  (errno of the last call)

        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _shared_netns_dir() -> None:
    """/run/netns as a shared mount (as `ip netns` makes it), so that a namespace bound there
    is seen in every mount namespace, the containers' included."""
    from flowyard.executors.mounts import libc

    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    target = str(NETNS_DIR).encode()
    if libc.mount(b"none", target, b"none", MS_SHARED | MS_REC, None) == 0:
        return
    _check(libc.mount(target, target, b"none", MS_BIND | MS_REC, None), f"bind {NETNS_DIR}")
    _check(libc.mount(b"none", target, b"none", MS_SHARED | MS_REC, None),
           f"make {NETNS_DIR} shared")


def _in_thread(fn: Callable[[], None]) -> None:
    """Run `fn` in a thread of its own and wait: a thread that enters a network namespace
    stays in it, so it must never be one that runs anything else."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            failed.append(exc)

    t = threading.Thread(target=run, name="flowyard-netns")
    t.start()
    t.join()
    if failed:
        raise failed[0]


class Sandboxes:
    """Create, find again and remove sandboxes; `root` is `$FLOWYARD_HOME/run/sandboxes`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, sandbox_id: str) -> Path:
        return self.root / check_sandbox_id(sandbox_id)

    def load(self, sandbox_id: str) -> Record | None:
        try:
            raw = json.loads((self.folder(sandbox_id) / "sandbox.json").read_text())
        except (OSError, ValueError):
            return None
        return Record(raw["id"], raw["hostname"], raw["ip"], raw["mode"], raw.get("hosts", {}))

    def _save(self, rec: Record) -> None:
        folder = self.folder(rec.id)
        tmp = folder / ".sandbox.json.tmp"
        tmp.write_text(json.dumps(asdict(rec)))
        os.replace(tmp, folder / "sandbox.json")

    def create(self, sandbox_id: str, hostname: str) -> Record:
        check_sandbox_id(sandbox_id)
        with _lock:
            rec = self.load(sandbox_id)
            if rec is not None and self._intact(rec):
                return rec
            folder = self.folder(sandbox_id)
            folder.mkdir(parents=True, exist_ok=True)
            mode = rec.mode if rec is not None else ("netns" if can_use_netns() else "loopback")
            ip = self._allocate(sandbox_id, mode, rec.ip if rec is not None else None)
            rec = Record(sandbox_id, hostname, ip, mode, rec.hosts if rec is not None else {})
            try:
                if mode == "netns":
                    self._make_netns(rec)
                self._write_files(rec)
            except BaseException:
                self._free(rec)
                raise
            self._save(rec)
            return rec

    def _intact(self, rec: Record) -> bool:
        if rec.mode == "netns":
            return (NETNS_DIR / netns_name(rec.id)).exists()
        return True

    def _ipam_dir(self, mode: str) -> Path:
        if mode == "netns":
            return IPAM_DIR
        try:
            (IPAM_DIR.parent / "ipam-loopback").mkdir(parents=True, exist_ok=True)
            return IPAM_DIR.parent / "ipam-loopback"
        except OSError:
            return self.root.parent / "ipam-loopback"

    def _allocate(self, sandbox_id: str, mode: str, wanted: str | None) -> str:
        folder = self._ipam_dir(mode)
        folder.mkdir(parents=True, exist_ok=True)
        net = pod_cidr() if mode == "netns" else ipaddress.IPv4Network("127.1.0.0/16")
        size = net.num_addresses
        hosts_range = size - 3  # network, gateway (.1), broadcast
        start = int(hashlib.sha1(sandbox_id.encode()).hexdigest(), 16) % hosts_range
        first = int(net.network_address) + 2
        # Lazily: the list of all 65k names of a /16 cost more than the namespace itself.
        candidates = itertools.chain(
            [wanted] if wanted else [],
            (str(ipaddress.IPv4Address(first + (start + n) % hosts_range))
             for n in range(hosts_range)))
        for ip in candidates:
            path = folder / ip
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                with contextlib.suppress(OSError):
                    if path.read_text() == sandbox_id:
                        return ip
                continue
            with os.fdopen(fd, "w") as f:
                f.write(sandbox_id)
            return ip
        raise OSError(f"no free pod address left in {net}")

    def _free(self, rec: Record) -> None:
        path = self._ipam_dir(rec.mode) / rec.ip
        with contextlib.suppress(OSError):
            if path.read_text() == rec.id:
                path.unlink()

    @staticmethod
    def _ensure_bridge(host: IPRoute) -> int:
        """The bridge's interface index (made, with the gateway address, if missing)."""
        from pyroute2.netlink.exceptions import NetlinkError

        br = bridge_name()
        found = host.link_lookup(ifname=br)
        if not found:
            net = pod_cidr()
            with contextlib.suppress(NetlinkError):  # made by another process meanwhile
                host.link("add", ifname=br, kind="bridge")
            found = host.link_lookup(ifname=br)
            if not found:
                raise OSError(f"cannot create the pod bridge {br}")
            with contextlib.suppress(NetlinkError):  # already there
                host.addr("add", index=found[0], address=str(net.network_address + 1),
                          prefixlen=net.prefixlen)
        host.link("set", index=found[0], state="up")
        return int(found[0])

    def _make_netns(self, rec: Record) -> None:
        # Imported here: it is 100+ ms and MBs that the zygotes and a loopback sandbox skip.
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        ns_path = NETNS_DIR / netns_name(rec.id)
        veth = _veth(rec.id)
        net = pod_cidr()

        def make() -> None:
            from flowyard.executors.mounts import libc

            # A netlink socket stays in the namespace it was opened in: this one is the
            # host's, opened before the thread enters the pod's.
            with IPRoute() as host:
                bridge = self._ensure_bridge(host)
                for index in host.link_lookup(ifname=veth):  # half made by an interrupted try
                    host.link("del", index=index)
                host_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
                try:
                    if ns_path.exists():
                        fd = os.open(ns_path, os.O_RDONLY)
                        try:
                            _check(libc.setns(fd, CLONE_NEWNET), f"setns {ns_path}")
                        finally:
                            os.close(fd)
                    else:
                        _shared_netns_dir()
                        ns_path.touch(exist_ok=True)
                        _check(libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
                        me = f"/proc/self/task/{threading.get_native_id()}/ns/net"
                        _check(libc.mount(me.encode(), str(ns_path).encode(), b"none", MS_BIND,
                                          None), f"bind {me} on {ns_path}")
                    with IPRoute() as pod:  # this thread is in the pod's namespace now
                        pod.link("set", index=pod.link_lookup(ifname="lo")[0], state="up")
                        for index in pod.link_lookup(ifname="eth0"):
                            pod.link("del", index=index)
                        pod.link("add", ifname="eth0", kind="veth",
                                 peer={"ifname": veth, "net_ns_fd": host_ns})
                        eth0 = pod.link_lookup(ifname="eth0")[0]
                        pod.addr("add", index=eth0, address=rec.ip, prefixlen=net.prefixlen)
                        pod.link("set", index=eth0, state="up")
                        pod.route("add", dst="0.0.0.0/0", gateway=str(net.network_address + 1))
                finally:
                    os.close(host_ns)
                peer = host.link_lookup(ifname=veth)[0]
                host.link("set", index=peer, master=bridge, state="up")

        try:
            _in_thread(make)
        except NetlinkError as exc:
            raise OSError(f"sandbox {rec.id}: netlink: {exc}") from exc

    @staticmethod
    def _remove_netns(sandbox_id: str) -> None:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        from flowyard.executors.mounts import libc

        with contextlib.suppress(NetlinkError, OSError), IPRoute() as host:
            for index in host.link_lookup(ifname=_veth(sandbox_id)):
                host.link("del", index=index)  # its peer, eth0, goes with it
        ns_path = NETNS_DIR / netns_name(sandbox_id)
        libc.umount2(str(ns_path).encode(), MNT_DETACH)
        with contextlib.suppress(FileNotFoundError):
            ns_path.unlink()

    def _write_files(self, rec: Record) -> None:
        folder = self.folder(rec.id)
        (folder / "hostname").write_text(rec.hostname + "\n")
        self._write_hosts(rec)

    def _write_hosts(self, rec: Record) -> None:
        lines = ["# Kubernetes-managed hosts file (Flowyard).",
                 "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                 f"{rec.ip}\t{rec.hostname}"]
        by_ip: dict[str, list[str]] = {}
        for name, addr in rec.hosts.items():
            by_ip.setdefault(addr, []).append(name)
        lines += [f"{addr}\t{' '.join(names)}" for addr, names in by_ip.items()]
        data = ("\n".join(lines) + "\n").encode()
        # In place, not replaced: running containers see the file through a bind mount of
        # its inode, which a rename would leave behind.
        fd = os.open(self.folder(rec.id) / "hosts", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)

    def set_hosts(self, sandbox_id: str, hosts: dict[str, str]) -> None:
        for name, addr in hosts.items():
            if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})", name):
                raise ValueError(f"host name {name!r} is not a valid DNS name")
            ipaddress.ip_address(addr)
        with _lock:
            rec = self.load(sandbox_id)
            if rec is None:
                raise KeyError(f"no sandbox {sandbox_id!r}")
            rec.hosts = dict(hosts)
            self._write_hosts(rec)
            self._save(rec)

    def remove(self, sandbox_id: str) -> None:
        with _lock:
            rec = self.load(sandbox_id)
            if rec is None:
                return
            if rec.mode == "netns":
                self._remove_netns(rec.id)
            self._free(rec)
            shutil.rmtree(self.folder(sandbox_id), ignore_errors=True)


@dataclass(frozen=True)
class Join:
    """What a work does to enter its sandbox (in the work process, before it runs)."""

    mode: str
    netns: str | None
    hostname: str
    hosts_file: str
    hostname_file: str

    def enter(self) -> list[tuple[str, str, bool]]:
        """Join the network and take the hostname; returns the files to bind-mount."""
        from flowyard.executors.mounts import libc

        if self.netns:
            fd = os.open(self.netns, os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {self.netns}: {os.strerror(err)}")
            finally:
                os.close(fd)
        if os.geteuid() == 0 and libc.unshare(CLONE_NEWUTS) == 0:
            with contextlib.suppress(OSError):
                socket.sethostname(self.hostname[:64])
        binds = [(self.hosts_file, "/etc/hosts", True)]
        if Path("/etc/hostname").exists():
            binds.append((self.hostname_file, "/etc/hostname", True))
        return binds


def join_for(sandboxes: Sandboxes, sandbox_id: str) -> Join:
    rec = sandboxes.load(sandbox_id)
    if rec is None:
        raise ValueError(f"work joins sandbox {sandbox_id!r}, which does not exist "
                         "(create_sandbox first)")
    folder = sandboxes.folder(sandbox_id)
    netns = str(NETNS_DIR / netns_name(sandbox_id)) if rec.mode == "netns" else None
    return Join(rec.mode, netns, rec.hostname, str(folder / "hosts"), str(folder / "hostname"))
