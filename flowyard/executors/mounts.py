"""Per-task mounts, as a pod has them: the task process gets its own mount namespace and
the volumes are bind-mounted at their mountPath inside it, invisible to everything else.
Runs in the forked child before the task starts (Linux only)."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000

# The process's own symbols (libc among them): ctypes.util.find_library would run ldconfig, a
# process of its own, in every work that joins a sandbox.
libc = ctypes.CDLL(None, use_errno=True)
_libc = libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, flags: int) -> None:
    _check(_libc.mount(source.encode() if source else None, target.encode(), None, flags, None),
           f"mount {source} on {target}")


def _enter_namespace() -> None:
    if os.geteuid() == 0:
        _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    else:
        uid, gid = os.geteuid(), os.getegid()
        _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare(CLONE_NEWUSER|CLONE_NEWNS)")
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"{gid} {gid} 1")
    # Nothing mounted here may leak back to the host's namespace.
    _mount(None, "/", MS_REC | MS_PRIVATE)


def apply(mounts: Sequence[tuple[str, str, bool]]) -> None:
    """Bind each (source, target, read_only). Raises OSError naming the mount that failed."""
    if not mounts:
        return
    _enter_namespace()
    for source, target, read_only in mounts:
        if os.path.isfile(source):
            # A single file (a pod's /etc/hosts): bound over a file that must already exist.
            if not os.path.exists(target):
                raise OSError(2, f"cannot bind {source} on {target}: {target} does not exist")
            _mount(source, target, MS_BIND)
            if read_only:
                _mount(None, target, MS_BIND | MS_REMOUNT | MS_RDONLY)
            continue
        try:
            os.makedirs(target, exist_ok=True)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot create mount point {target}: {exc.strerror} "
                          "(run as root, or create the folder once)") from exc
        _mount(source, target, MS_BIND | MS_REC)
        if read_only:
            _mount(None, target, MS_BIND | MS_REMOUNT | MS_RDONLY)
