"""A pod's volumes made into folders the executor binds at each mountPath: PVCs are the named
local volumes, configMap/secret/downwardAPI/projected are files written for the pod (secrets
on a memory filesystem when there is one), emptyDir a fresh folder (Memory: in /dev/shm)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flowyard.config import settings
from flowyard.controllers.pods.env import ConfigError, field_value, resource_value
from flowyard.store import Store
from flowyard.store.secrets import SecretStore
from flowyard.store.volumes import VolumeStore, claim_volume

_SHM = Path("/dev/shm")


def allow_host_path() -> bool:
    return os.environ.get("FLOWYARD_ALLOW_HOSTPATH", "").lower() in ("1", "true", "yes")


def pod_dir(uid: str) -> Path:
    return settings().home / "pods" / uid


def memory_dir(uid: str) -> Path:
    base = _SHM if _SHM.is_dir() and os.access(_SHM, os.W_OK) else settings().home / "shm"
    return base / "flowyard" / settings().home.name / uid


def _write_files(target: Path, files: dict[str, tuple[str, int]]) -> None:
    """Replace the folder's contents with `files` (relative path -> (text, mode)), each file
    written whole before it appears."""
    target.mkdir(parents=True, exist_ok=True, mode=0o755)
    for entry in target.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for rel, (text, mode) in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)


def _select(data: dict[str, str], items: list[dict[str, Any]], default_mode: int, what: str,
            optional: bool) -> dict[str, tuple[str, int]]:
    if not items:
        return {k: (v, default_mode) for k, v in data.items()}
    out = {}
    for item in items:
        if item["key"] not in data:
            if optional:
                continue
            raise ConfigError(f"configmap references non-existent config key: {item['key']}"
                              if what == "ConfigMap" else
                              f"references non-existent secret key: {item['key']}")
        out[item["path"]] = (data[item["key"]], item.get("mode") or default_mode)
    return out


async def _source_files(pod: dict[str, Any], source: str, conf: dict[str, Any], objects: Any,
                        store: Store) -> dict[str, tuple[str, int]] | None:
    ns = pod["metadata"].get("namespace") or "default"
    mode = conf.get("defaultMode") or 0o644
    if source == "configMap":
        obj = await objects.get("", "configmaps", ns, conf["name"])
        if obj is None:
            if conf.get("optional"):
                return {}
            raise ConfigError(f'configmap "{conf["name"]}" not found')
        data = {k: str(v) for k, v in (obj.get("data") or {}).items()}
        return _select(data, conf.get("items") or [], mode, "ConfigMap", conf.get("optional",
                                                                                   False))
    if source == "secret":
        name = conf.get("secretName") or conf.get("name")
        data = await asyncio.to_thread(SecretStore(store).get, name, "Secret", ns)
        if data is None:
            if conf.get("optional"):
                return {}
            raise ConfigError(f'secret "{name}" not found')
        return _select(data, conf.get("items") or [], mode, "Secret", conf.get("optional", False))
    if source == "downwardAPI":
        files = {}
        for item in conf.get("items") or []:
            if item.get("fieldRef"):
                text = field_value(pod, item["fieldRef"]["fieldPath"])
            else:
                ref = item["resourceFieldRef"]
                container = {"name": ref.get("containerName") or ""}
                text = resource_value(pod, container, ref, {})
            files[item["path"]] = (text, item.get("mode") or mode)
        return files
    return None


async def prepare(pod: dict[str, Any], objects: Any, store: Store
                  ) -> dict[str, tuple[str, bool]]:
    """volume name -> (host folder, always read-only). Raises ConfigError (FailedMount)."""
    uid = pod["metadata"]["uid"]
    out: dict[str, tuple[str, bool]] = {}
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = vol["name"]
        if "persistentVolumeClaim" in vol:
            claim = vol["persistentVolumeClaim"]["claimName"]
            found = await asyncio.to_thread(VolumeStore(store).get, claim_volume(
                pod["metadata"].get("namespace", ""), claim))
            if found is None:
                raise ConfigError(f'persistentvolumeclaim "{claim}" not found')
            out[name] = (found.path, bool(vol["persistentVolumeClaim"].get("readOnly")))
        elif "emptyDir" in vol:
            memory = (vol["emptyDir"] or {}).get("medium") == "Memory"
            path = (memory_dir(uid) if memory else pod_dir(uid)) / "empty" / name
            path.mkdir(parents=True, exist_ok=True)
            out[name] = (str(path), False)
        elif "hostPath" in vol:
            if not allow_host_path():
                raise ConfigError(f"volume {name}: hostPath volumes are refused (they expose "
                                  "the host's files to the pod); set FLOWYARD_ALLOW_HOSTPATH=1 "
                                  "to allow them")
            path = Path(vol["hostPath"]["path"])
            if vol["hostPath"].get("type") in ("DirectoryOrCreate",):
                path.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                raise ConfigError(f"hostPath type check failed: {path} does not exist")
            out[name] = (str(path), False)
        elif "projected" in vol:
            files: dict[str, tuple[str, int]] = {}
            mode = vol["projected"].get("defaultMode") or 0o644
            for src in vol["projected"].get("sources") or []:
                for kind, conf in src.items():
                    got = await _source_files(pod, kind, {"defaultMode": mode, **conf}, objects,
                                              store)
                    if got is None:
                        raise ConfigError(f"volume {name}: projected source {kind} is not "
                                          "supported here")
                    files.update(got)
            target = memory_dir(uid) / "volumes" / name
            await asyncio.to_thread(_write_files, target, files)
            out[name] = (str(target), True)
        else:
            source = next((k for k in ("configMap", "secret", "downwardAPI") if k in vol), None)
            if source is None:
                kinds = ", ".join(k for k in vol if k != "name") or "none"
                raise ConfigError(f"volume {name}: source {kinds} is not supported on this "
                                  "machine (persistentVolumeClaim, configMap, secret, emptyDir, "
                                  "downwardAPI, projected)")
            got = await _source_files(pod, source, vol[source], objects, store)
            assert got is not None
            base = memory_dir(uid) if source == "secret" else pod_dir(uid)
            target = base / "volumes" / name
            await asyncio.to_thread(_write_files, target, got)
            out[name] = (str(target), True)
    return out


def mounts_for(container: dict[str, Any], volumes: dict[str, tuple[str, bool]]
               ) -> list[tuple[str, str, bool]]:
    """(host folder, mountPath, read-only) for the container, parents before children."""
    out = []
    for m in container.get("volumeMounts") or []:
        source, ro = volumes[m["name"]]
        if m.get("subPath"):
            sub = Path(source) / m["subPath"]
            if ".." in Path(m["subPath"]).parts or m["subPath"].startswith("/"):
                raise ConfigError(f"subPath {m['subPath']!r}: a relative path without '..'")
            sub.mkdir(parents=True, exist_ok=True)
            source = str(sub)
        out.append((source, m["mountPath"], ro or bool(m.get("readOnly"))))
    return sorted(out, key=lambda t: t[1].count("/"))


def cleanup(uid: str) -> None:
    shutil.rmtree(pod_dir(uid), ignore_errors=True)
    shutil.rmtree(memory_dir(uid), ignore_errors=True)
