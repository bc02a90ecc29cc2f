"""The Kubernetes platform spec (the second YAML document), given its local meaning:
secrets and config maps from Flowyard's secret store, PVCs as named local volumes mounted
in the task's own mount namespace, the downward API from the task's pod metadata. What has
no local meaning (node selectors, tolerations, affinity, image pull secrets...) is recorded
as an event, never silently dropped."""

from __future__ import annotations

import os
import re
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from flowyard.pipelines.errors import TaskError
from flowyard.resources.meta import check_name
from flowyard.store.secrets import key_problems

# Keys of an executor's platform config that only mean something to a Kubernetes scheduler.
NO_LOCAL_MEANING = ("nodeSelector", "tolerations", "nodeAffinity", "podAffinity",
                    "securityContext", "imagePullSecret",
                    "imagePullPolicy", "enabledSharedMemory")
MIN_LINE = 4  # characters: shorter lines of a multi-line secret are not masked alone
_FIELD = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")


@dataclass
class Mount:
    source: str
    target: str
    read_only: bool = False


@dataclass
class TaskPlatform:
    env: dict[str, str] = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    secret_values: list[str] = field(default_factory=list)
    timeout: float | None = None

    def mask_values(self) -> list[str]:
        """What the task's log must not show: every value of a Secret injected into it (env
        or volume), as injected (decoded), longest first so a value that holds another is
        masked whole. As GitHub Actions does, every registered value is masked whatever its
        length; each line of a multi-line value is masked too (a log is read line by line),
        except lines under MIN_LINE characters, which would blank every brace of a JSON one.
        Values that are only whitespace cannot be told apart from the log's own spacing."""
        found: set[str] = set()
        for value in self.secret_values:
            if value.strip():
                found.add(value)
            if "\n" in value or "\r" in value:
                found.update(line.strip() for line in value.splitlines()
                             if len(line.strip()) >= MIN_LINE)
        return sorted(found, key=lambda v: (-len(v), v))


@dataclass
class PlatformConfig:
    executors: dict[str, Any] = field(default_factory=dict)
    pipeline: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, platform_spec: dict[str, Any] | None) -> PlatformConfig:
        kube = ((platform_spec or {}).get("platforms") or {}).get("kubernetes") or {}
        return cls(executors=(kube.get("deploymentSpec") or {}).get("executors") or {},
                   pipeline=kube.get("pipelineConfig") or {})

    def for_executor(self, label: str) -> dict[str, Any]:
        return self.executors.get(label) or {}


class PlatformResolver:
    """Resolves one executor's platform config against the task's DAG scope.
    `param(src)` evaluates a parameter source (componentInputParameter, runtimeValue, ...)."""

    def __init__(self, config: dict[str, Any], param: Any, secrets: Any, volumes: Any,
                 pod_name: str, task_id: str, mounts_dir: Path, text: Any = None) -> None:
        self.config, self.param = config, param
        # Resolves KFP placeholders in pod label and annotation values.
        self.text = text or (lambda value: value)
        self.secrets, self.volumes = secrets, volumes
        self.pod_name, self.task_id, self.mounts_dir = pod_name, task_id, mounts_dir

    def _name(self, item: dict[str, Any], key: str, legacy: str) -> str | None:
        if item.get(key):
            value = self.param(item[key])
            if value not in (None, ""):
                return str(value)
        return item.get(legacy) or None

    def resolve(self) -> TaskPlatform:
        try:
            return self._resolve()
        except BaseException:
            # The task will not run: secret files already written for it must not stay.
            release(self.mounts_dir, self.task_id)
            raise

    def _resolve(self) -> TaskPlatform:
        cfg, out = self.config, TaskPlatform()
        meta = cfg.get("podMetadata") or {}
        out.labels = {k: self.text(str(v)) for k, v in (meta.get("labels") or {}).items()}
        out.annotations = {k: self.text(str(v))
                           for k, v in (meta.get("annotations") or {}).items()}
        for kind, name_key, legacy in (("Secret", "secretNameParameter", "secretName"),
                                       ("ConfigMap", "configMapNameParameter", "configMapName")):
            for item in cfg.get(f"{_lower(kind)}AsEnv") or []:
                name = self._name(item, name_key, legacy)
                data = self._lookup(kind, name, item)
                if data is None:
                    continue
                data_key = "secretKey" if kind == "Secret" else "configMapKey"
                for pair in item.get("keyToEnv") or []:
                    if pair[data_key] not in data:
                        if item.get("optional"):
                            continue
                        raise TaskError(f"{kind} {name!r} has no key {pair[data_key]!r} for env "
                                        f"{pair['envVar']} (its keys: {', '.join(sorted(data))})")
                    out.env[pair["envVar"]] = data[pair[data_key]]
                    if kind == "Secret":
                        out.secret_values.append(data[pair[data_key]])
            for i, item in enumerate(cfg.get(f"{_lower(kind)}AsVolume") or []):
                name = self._name(item, name_key, legacy)
                data = self._lookup(kind, name, item)
                if data is None:
                    continue
                # One folder per volume: the same Secret may be mounted twice, with other items.
                folder = self.mounts_dir / f"{_lower(kind)}-{name}-{i}"
                written = write_volume(folder, f"{kind} {name!r}", data, item.get("items"),
                                       bool(item.get("optional")))
                if kind == "Secret":
                    out.secret_values.extend(written)
                out.mounts.append(Mount(str(folder), item["mountPath"], read_only=True))
        for item in cfg.get("pvcMount") or []:
            name = self._name(item, "pvcNameParameter", "constant")
            if name is None and "componentInputParameter" in item:
                name = self.param({"componentInputParameter": item["componentInputParameter"]})
            volume = self.volumes.get(str(name)) if name else None
            if volume is None:
                raise TaskError(f"pvcMount: volume {name!r} does not exist; create it with "
                                f"`flowyard volumes create {name}` or a CreatePVC task")
            out.mounts.append(Mount(_sub_path(volume.path, item.get("subPath")),
                                    item["mountPath"]))
        for item in [*(cfg.get("emptyDirMounts") or []),
                     *(cfg.get("genericEphemeralVolume") or [])]:
            # A fresh folder that lives as long as the task, as a pod's emptyDir does.
            base = self.mounts_dir if item.get("medium") == "Memory" else scratch_dir(self.task_id)
            folder = base / f"volume-{item.get('volumeName') or len(out.mounts)}"
            folder.mkdir(parents=True, exist_ok=True)
            out.mounts.append(Mount(str(folder), item["mountPath"]))
        if cfg.get("activeDeadlineSeconds"):
            out.timeout = float(cfg["activeDeadlineSeconds"])
        for item in cfg.get("fieldPathAsEnv") or []:
            out.env[item["name"]] = self._field(item["fieldPath"], out)
        for key in NO_LOCAL_MEANING:
            if cfg.get(key):
                out.ignored.append(key)
        return out

    def _lookup(self, kind: str, name: str | None, item: dict[str, Any]) -> dict[str, str] | None:
        if not name:
            if item.get("optional"):
                return None
            raise TaskError(f"{_lower(kind)}: no {kind} name given")
        try:
            # A name may come from a pipeline parameter, and it names a folder.
            check_name(name, f"{kind} name")
        except ValueError as exc:
            raise TaskError(str(exc)) from None
        data = self.secrets.get(name, kind=kind)
        if data is None and not item.get("optional"):
            cmd = "secrets" if kind == "Secret" else "configmaps"
            raise TaskError(f"{kind} {name!r} does not exist; create it with "
                            f"`flowyard {cmd} create {name} --from-literal KEY=VALUE`")
        return data

    def _field(self, path: str, out: TaskPlatform) -> str:
        m = _FIELD.match(path)
        if m:
            source = out.labels if m.group(1) == "labels" else out.annotations
            # The downward API gives '' for a label or annotation the pod doesn't have.
            return source.get(m.group(2), "")
        return {
            "metadata.name": self.pod_name,
            "metadata.namespace": "default",
            "metadata.uid": self.task_id,
            "spec.nodeName": socket.gethostname(),
            "spec.serviceAccountName": "default",
            "status.podIP": "127.0.0.1",
            "status.hostIP": "127.0.0.1",
        }.get(path, "")


def write_volume(folder: Path, what: str, data: dict[str, str],
                 items: list[dict[str, Any]] | None = None, optional: bool = False) -> list[str]:
    """Write a Secret's or ConfigMap's keys as the files of a volume, as the kubelet does:
    every key, or with `items` (Kubernetes' KeyToPath) the keys listed, each at its `path`.
    Keys and paths are checked again here, whatever the store holds: a file is never written
    outside `folder`. Returns the values written."""
    files: dict[str, str] = {}
    for key in data:
        problems = key_problems(key)
        if problems:
            raise TaskError(f"{what}: key {key!r} cannot be a file name in a volume: "
                            f"{'; '.join(problems)}")
    if items:
        for i, entry in enumerate(items):
            key, rel = str(entry.get("key", "")), str(entry.get("path", ""))
            if key not in data:
                if optional:
                    continue
                raise TaskError(f"{what}: items[{i}].key {key!r} is not one of its keys "
                                f"({', '.join(sorted(data))})")
            files[_local_path(what, i, rel)] = data[key]
    else:
        files = dict(data)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    base = folder.resolve()
    for rel, value in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not target.parent.resolve().is_relative_to(base):
            raise TaskError(f"{what}: {rel!r} would be written outside its volume")
        # Written aside and renamed over: a link found at the target is replaced, never
        # followed, and a reader sees the whole value or the one before.
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value)
        os.replace(tmp, target)
    return list(files.values())


def _local_path(what: str, i: int, rel: str) -> str:
    """A KeyToPath path as Kubernetes validates it: relative, no '..' element, not
    starting with '..'."""
    parts = PurePosixPath(rel).parts
    if not rel or rel.startswith("/") or ".." in parts or rel.startswith(".."):
        raise TaskError(f"{what}: items[{i}].path {rel!r} must be a relative path without "
                        "'..' (it names a file inside the volume)")
    return str(PurePosixPath(*parts))


def scratch_dir(task_id: str) -> Path:
    """Where a task's disk-backed emptyDir and ephemeral volumes live while it runs."""
    from flowyard.config import settings

    return settings().work_dir / "scratch" / task_id


def release(mounts_dir: Path, task_id: str) -> None:
    """Remove what a task's mounts were made of (secret files, scratch volumes)."""
    shutil.rmtree(mounts_dir, ignore_errors=True)
    shutil.rmtree(scratch_dir(task_id), ignore_errors=True)


def _sub_path(root: str, sub: str | None) -> str:
    """The folder a pvcMount binds: the volume, or its `subPath` (created on first use, as
    the kubelet does), which must stay inside the volume."""
    if not sub:
        return root
    rel = Path(sub)
    if rel.is_absolute() or ".." in rel.parts:
        raise TaskError(f"pvcMount: subPath {sub!r} must be a relative path inside the volume")
    folder = Path(root) / rel
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def _lower(kind: str) -> str:
    return kind[0].lower() + kind[1:]
