"""A container's environment as the kubelet builds it: the Service variables of its namespace
(lowest precedence), then envFrom in order, then env in order with `$(VAR)` expansion and
valueFrom (Secrets, ConfigMaps, the downward API, resource fields)."""

from __future__ import annotations

import asyncio
import math
import os
from typing import Any

from flowyard.controllers.pods.expand import expand
from flowyard.controllers.pods.scheduling import GPU
from flowyard.resources import quantity
from flowyard.store import Store
from flowyard.store.secrets import SecretStore


class ConfigError(Exception):
    """What makes a container's waiting reason CreateContainerConfigError."""


def base_env(pod: dict[str, Any]) -> dict[str, str]:
    """What an image would bring: a PATH to find commands, HOME, HOSTNAME. Nothing else of
    the control plane's own environment leaks into a pod (its keys, its credentials)."""
    spec = pod.get("spec") or {}
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
           "HOSTNAME": spec.get("hostname") or pod["metadata"]["name"],
           "HOME": os.environ.get("HOME", "/root")}
    for key in ("LANG", "LC_ALL", "TZ"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def service_env(services: list[dict[str, Any]]) -> dict[str, str]:
    """{SVC}_SERVICE_HOST/PORT and the docker-link variables, for Services with a ClusterIP."""
    env: dict[str, str] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        ports = spec.get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        name = svc["metadata"]["name"].upper().replace("-", "_")
        env[f"{name}_SERVICE_HOST"] = ip
        env[f"{name}_SERVICE_PORT"] = str(ports[0]["port"])
        for p in ports:
            if p.get("name"):
                env[f"{name}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}"] = str(p["port"])
        first = ports[0]
        proto = first.get("protocol", "TCP")
        env[f"{name}_PORT"] = f"{proto.lower()}://{ip}:{first['port']}"
        for p in ports:
            proto = p.get("protocol", "TCP")
            base = f"{name}_PORT_{p['port']}_{proto}"
            env[base] = f"{proto.lower()}://{ip}:{p['port']}"
            env[f"{base}_PROTO"] = proto.lower()
            env[f"{base}_PORT"] = str(p["port"])
            env[f"{base}_ADDR"] = ip
    return env


def field_value(pod: dict[str, Any], path: str) -> str:
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName") or "default",
              "status.podIP": status.get("podIP"), "status.hostIP": status.get("hostIP"),
              "status.podIPs": ",".join(i["ip"] for i in status.get("podIPs") or []),
              "status.hostIPs": ",".join(i["ip"] for i in status.get("hostIPs") or [])}
    if path in simple:
        return str(simple[path] or "")
    for prefix, mapping in (("metadata.labels", meta.get("labels") or {}),
                            ("metadata.annotations", meta.get("annotations") or {})):
        if path == prefix:
            return "\n".join(f'{k}="{v}"' for k, v in sorted(mapping.items()))
        if path.startswith(prefix + "['") and path.endswith("']"):
            return str(mapping.get(path[len(prefix) + 2:-2], ""))
    raise ConfigError(f"fieldRef {path!r} is not supported (metadata.name, metadata.namespace, "
                      "metadata.uid, metadata.labels['k'], metadata.annotations['k'], "
                      "spec.nodeName, spec.serviceAccountName, status.podIP, status.hostIP)")


def resource_value(pod: dict[str, Any], container: dict[str, Any], ref: dict[str, Any],
                   allocatable: dict[str, float]) -> str:
    name = ref.get("containerName") or container["name"]
    spec = pod.get("spec") or {}
    target = next((c for c in [*(spec.get("containers") or []),
                               *(spec.get("initContainers") or [])] if c["name"] == name), None)
    if target is None:
        raise ConfigError(f"resourceFieldRef: no container {name!r} in the pod")
    kind, _, res = ref["resource"].partition(".")
    resources = target.get("resources") or {}
    given = (resources.get(kind) or {}).get(res)
    if given is None and kind == "requests":
        given = (resources.get("limits") or {}).get(res)
    value = float(quantity.parse(given)) if given is not None else (
        allocatable.get(res, 0.0) if kind == "limits" else 0.0)
    divisor = float(quantity.parse(ref.get("divisor") or 1))
    return str(math.ceil(value / divisor)) if divisor else "0"


async def _config_map(store: Any, ns: str, name: str) -> dict[str, str] | None:
    obj = await store.get("", "configmaps", ns, name)
    return None if obj is None else {k: str(v) for k, v in (obj.get("data") or {}).items()}


async def secret_values(store: Store, ns: str, name: str) -> dict[str, str] | None:
    return await asyncio.to_thread(SecretStore(store).get, name, "Secret", ns)


async def container_env(pod: dict[str, Any], container: dict[str, Any], objects: Any,
                        store: Store, services: list[dict[str, Any]],
                        allocatable: dict[str, float]) -> tuple[dict[str, str], list[str]]:
    """(the container's own variables, the secret values among them to mask in logs)."""
    ns = pod["metadata"].get("namespace") or "default"
    env: dict[str, str] = {}
    secrets: list[str] = []
    if (pod.get("spec") or {}).get("enableServiceLinks", True):
        env.update(service_env(services))
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix") or ""
        ref = src.get("configMapRef") or src.get("secretRef") or {}
        is_secret = "secretRef" in src
        data = await (secret_values(store, ns, ref["name"]) if is_secret
                      else _config_map(objects, ns, ref["name"]))
        if data is None:
            if ref.get("optional"):
                continue
            raise ConfigError(f'{"secret" if is_secret else "configmap"} "{ref["name"]}" '
                              "not found")
        for k, v in data.items():
            env[prefix + k] = v
            if is_secret:
                secrets.append(v)
    for var in container.get("env") or []:
        name = var["name"]
        if "valueFrom" not in var or var.get("valueFrom") is None:
            env[name] = expand(str(var.get("value") or ""), env)
            continue
        src = var["valueFrom"]
        if "fieldRef" in src:
            env[name] = field_value(pod, src["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in src:
            env[name] = resource_value(pod, container, src["resourceFieldRef"], allocatable)
        else:
            is_secret = "secretKeyRef" in src
            ref = src["secretKeyRef"] if is_secret else src["configMapKeyRef"]
            data = await (secret_values(store, ns, ref["name"]) if is_secret
                          else _config_map(objects, ns, ref["name"]))
            what = "secret" if is_secret else "configmap"
            if data is None or ref["key"] not in data:
                if ref.get("optional"):
                    continue
                if data is None:
                    raise ConfigError(f'{what} "{ref["name"]}" not found')
                raise ConfigError(f"couldn't find key {ref['key']} in "
                                  f"{'Secret' if is_secret else 'ConfigMap'} {ns}/{ref['name']}")
            env[name] = data[ref["key"]]
            if is_secret:
                secrets.append(data[ref["key"]])
    return env, [s for s in secrets if s]


def allocatable_of(cap: Any) -> dict[str, float]:
    return {"cpu": float(cap.cpu), "memory": float(cap.memory), GPU: float(cap.gpu)}
