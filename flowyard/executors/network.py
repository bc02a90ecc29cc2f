"""Pod sandboxes: each pod gets its own network address, so two pods can both listen on 8080.

Where we may (root, or CAP_NET_ADMIN), a sandbox is a named network namespace `fy-<id>` (it
persists in /run/netns across restarts of the control plane) with loopback up and a veth
pair to the bridge `fy0` on the pod CIDR (10.244.0.0/16, Kubernetes' default; the bridge is
10.244.0.1 and the pods' gateway). The host reaches every pod through the bridge's route.
Addresses are handed out machine-wide (one file per address in /run/flowyard/ipam, created
exclusively), as CNI's host-local IPAM does.

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
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flowyard.executors.base import Sandbox

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
    return os.geteuid() == 0 and shutil.which("ip") is not None and sys_has_netns()


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


def _ip(args: list[str], batch: list[str]) -> None:
    done = subprocess.run(["ip", *args, "-batch", "-"], input="\n".join(batch) + "\n",
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")


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
        candidates = [wanted] if wanted else []
        for n in range(hosts_range):
            candidates.append(str(net.network_address + 2 + (start + n) % hosts_range))
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

    def _ensure_bridge(self) -> None:
        br = bridge_name()
        if Path(f"/sys/class/net/{br}").exists():
            return
        net = pod_cidr()
        gateway = f"{net.network_address + 1}/{net.prefixlen}"
        with contextlib.suppress(OSError):  # made by another process in the meantime
            _ip(["-force"], [f"link add {br} type bridge", f"addr add {gateway} dev {br}",
                             f"link set {br} up"])
        if not Path(f"/sys/class/net/{br}").exists():
            raise OSError(f"cannot create the pod bridge {br}")

    def _make_netns(self, rec: Record) -> None:
        self._ensure_bridge()
        ns, veth = netns_name(rec.id), _veth(rec.id)
        net = pod_cidr()
        if not (NETNS_DIR / ns).exists():
            _ip([], [f"netns add {ns}"])
        with contextlib.suppress(OSError):
            _ip([], [f"link del {veth}"])  # a half-made pair from an interrupted create
        _ip([], [f"link add {veth} type veth peer name eth0 netns {ns}",
                 f"link set {veth} master {bridge_name()}", f"link set {veth} up"])
        _ip(["-n", ns], ["link set lo up", f"addr add {rec.ip}/{net.prefixlen} dev eth0",
                         "link set eth0 up", f"route add default via {net.network_address + 1}"])

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
                with contextlib.suppress(OSError):
                    _ip([], [f"link del {_veth(rec.id)}"])
                with contextlib.suppress(OSError):
                    _ip([], [f"netns del {netns_name(rec.id)}"])
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
