"""Names a pod's processes resolve, as cluster DNS would answer them: `svc`, `svc.ns`,
`svc.ns.svc`, `svc.ns.svc.cluster.local` for Services (a headless one: a ready pod's address),
and `{hostname}.{subdomain}` for pods under a headless Service. Handed to each sandbox with
executor.set_hosts; recomputed from the store whenever Services or their pods change."""

from __future__ import annotations

import contextlib
from typing import Any

DOMAIN = "cluster.local"


def _service_names(name: str, ns: str, own_ns: str) -> list[str]:
    names = [f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.{DOMAIN}"]
    return ([name] if ns == own_ns else []) + names


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def table(services: list[dict[str, Any]], pods: list[dict[str, Any]], pod: dict[str, Any],
          ip: str) -> dict[str, str]:
    own_ns = pod["metadata"].get("namespace") or "default"
    hosts: dict[str, str] = {}
    headless: dict[tuple[str, str], dict[str, Any]] = {}
    for svc in services:
        ns, name = svc["metadata"].get("namespace") or "default", svc["metadata"]["name"]
        spec = svc.get("spec") or {}
        address = spec.get("clusterIP")
        if address == "None":
            headless[(ns, name)] = spec
            sel = spec.get("selector") or {}
            members = [p for p in pods if (p["metadata"].get("namespace") or "default") == ns
                       and sel and all((p["metadata"].get("labels") or {}).get(k) == v
                                       for k, v in sel.items())
                       and _ready(p) and (p.get("status") or {}).get("podIP")]
            if not members:
                continue
            address = sorted(members, key=lambda p: p["metadata"]["name"])[0]["status"]["podIP"]
        if not address:
            continue
        for n in _service_names(name, ns, own_ns):
            hosts[n] = address
    for other in pods:
        spec, meta = other.get("spec") or {}, other["metadata"]
        ns = meta.get("namespace") or "default"
        address = (other.get("status") or {}).get("podIP")
        sub, host = spec.get("subdomain"), spec.get("hostname") or meta["name"]
        if not address or not sub or (ns, sub) not in headless:
            continue
        for n in _service_names(f"{host}.{sub}", ns, own_ns):
            hosts[n] = address
    spec = pod.get("spec") or {}
    host = spec.get("hostname") or pod["metadata"]["name"]
    hosts[host] = ip
    if spec.get("subdomain"):
        hosts[f"{host}.{spec['subdomain']}.{own_ns}.svc.{DOMAIN}"] = ip
    return hosts


async def hosts_for(objects: Any, pod: dict[str, Any], ip: str) -> dict[str, str]:
    return table(await objects.list("", "services"), await objects.list("", "pods"), pod, ip)


async def refresh_all(ctx: Any) -> None:
    """Give every running pod's sandbox the current names (only where they changed)."""
    kubelet = ctx.runtime.get("kubelet")
    if kubelet is None or not kubelet.workers:
        return
    last: dict[str, dict[str, str]] = ctx.runtime.setdefault("dns", {})
    services = await ctx.objects.list("", "services")
    pods = await ctx.objects.list("", "pods")
    for worker in list(kubelet.workers.values()):
        if not worker.ip:
            continue
        want = table(services, pods, worker.pod, worker.ip)
        if last.get(worker.sandbox_id) == want:
            continue
        with contextlib.suppress(Exception):
            await ctx.executor.set_hosts(worker.sandbox_id, want)
            last[worker.sandbox_id] = want
