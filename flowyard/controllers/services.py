"""v1 Service: a ClusterIP from the service range (written into spec.clusterIP as the API
server does), NodePorts from 30000-32767, the Endpoints and EndpointSlice of its ready pods,
the in-process proxy on ClusterIP:port (and 127.0.0.1:nodePort), and the names pods resolve."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
from typing import Any

from flowyard.controllers import dns, proxy
from flowyard.controllers.context import Context
from flowyard.controllers.registry import Outcome
from flowyard.controllers.templates import pod_phase, pod_ready
from flowyard.store.resources import Key

NODE_PORTS = range(30000, 32768)
SLICE_LABEL = "kubernetes.io/service-name"


def service_cidr() -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(os.environ.get("FLOWYARD_SERVICE_CIDR") or "10.96.0.0/16")


def _proxy(ctx: Context) -> proxy.Proxy:
    return ctx.runtime.setdefault("proxy", proxy.Proxy())  # type: ignore[no-any-return]


def _target_port(port: dict[str, Any], pod: dict[str, Any]) -> int | None:
    target = port.get("targetPort", port["port"])
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target:
                return int(p["containerPort"])
    return None


def _free_address(net: ipaddress.IPv4Network, taken: set[Any]) -> str | None:
    """A random free address, as the API server's allocator picks one (two control planes on
    one machine then rarely collide); .1 is left for the `kubernetes` Service."""
    size = net.num_addresses - 2
    for _ in range(64):
        candidate = str(net.network_address + 2 + random.randrange(max(1, size - 1)))
        if candidate not in taken:
            return candidate
    return next((str(h) for i, h in enumerate(net.hosts()) if i > 0 and str(h) not in taken),
                None)


class ServiceController:
    group = ""
    kind = "Service"
    _alloc_lock = asyncio.Lock()

    async def related(self, pod: dict[str, Any], ctx: Context) -> list[Key]:
        """A pod's change can change the endpoints of every Service in its namespace."""
        ns = pod["metadata"].get("namespace") or "default"
        return [Key("", "services", ns, s["metadata"]["name"])
                for s in await ctx.objects.list("", "services", ns)]

    async def reconcile(self, obj: dict[str, Any], ctx: Context) -> Outcome:
        if obj["metadata"].get("deletionTimestamp"):
            return Outcome()  # being deleted: nothing new is made for it
        spec = obj.get("spec") or {}
        events: list[tuple[str, str, str]] = []
        if spec.get("type") != "ExternalName":
            obj, allocated = await self._allocate(obj, ctx)
            if obj is None:
                return Outcome()  # changed meanwhile: the newer object comes back
            events += allocated
            spec = obj["spec"]
        ns = obj["metadata"].get("namespace") or "default"
        selector = spec.get("selector")
        pods = [] if not selector else [
            p for p in await ctx.objects.list("", "pods", ns, match_labels=selector)
            if (p.get("status") or {}).get("podIP") and pod_phase(p) not in ("Succeeded",
                                                                                "Failed")]
        if selector is not None:
            await self._endpoints(obj, pods, ctx)
        problems = await self._route(obj, pods, ctx)
        for problem in problems:
            events.append(("Warning", "ProxyFailed", problem))
        await dns.refresh_all(ctx)
        status = {"loadBalancer": {}}
        return Outcome(status=status, events=events)

    async def _allocate(self, obj: dict[str, Any], ctx: Context) -> tuple[
            dict[str, Any] | None, list[tuple[str, str, str]]]:
        spec = dict(obj.get("spec") or {})
        events: list[tuple[str, str, str]] = []
        need_ip = not spec.get("clusterIP")
        need_ports = spec.get("type") in ("NodePort", "LoadBalancer") and any(
            not p.get("nodePort") for p in spec.get("ports") or [])
        if not need_ip and not need_ports and spec.get("clusterIPs"):
            return obj, events
        async with self._alloc_lock:
            others = [s for s in await ctx.objects.list("", "services")
                      if s["metadata"]["uid"] != obj["metadata"]["uid"]]
            if need_ip:
                taken = {(s.get("spec") or {}).get("clusterIP") for s in others}
                net = service_cidr()
                ip = _free_address(net, taken)
                if ip is None:
                    events.append(("Warning", "ClusterIPNotAllocated",
                                   f"the service range {net} is full"))
                    return obj, events
                spec["clusterIP"] = ip
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
            if need_ports:
                taken_ports = {p.get("nodePort") for s in others
                               for p in (s.get("spec") or {}).get("ports") or []}
                ports = []
                for p in spec.get("ports") or []:
                    p = dict(p)
                    if not p.get("nodePort"):
                        p["nodePort"] = next(n for n in NODE_PORTS if n not in taken_ports)
                        taken_ports.add(p["nodePort"])
                    ports.append(p)
                spec["ports"] = ports
            spec["ports"] = [{"protocol": "TCP", "targetPort": p["port"], **p}
                             for p in spec.get("ports") or []]
            updated = await ctx.objects.update({**obj, "spec": spec})
        return updated, events

    async def _endpoints(self, svc: dict[str, Any], pods: list[dict[str, Any]],
                         ctx: Context) -> None:
        meta, spec = svc["metadata"], svc["spec"]
        ns, name = meta.get("namespace") or "default", meta["name"]
        ports = spec.get("ports") or []
        ready = [p for p in pods if pod_ready(p)]
        not_ready = [p for p in pods if not pod_ready(p)]

        def address(p: dict[str, Any]) -> dict[str, Any]:
            out = {"ip": p["status"]["podIP"], "nodeName": (p.get("spec") or {}).get(
                "nodeName", "flowyard"), "targetRef": {"kind": "Pod", "namespace": ns,
                                                      "name": p["metadata"]["name"],
                                                      "uid": p["metadata"]["uid"]}}
            if (p.get("spec") or {}).get("hostname"):
                out["hostname"] = p["spec"]["hostname"]
            return out

        sample = (ready or not_ready or [{}])[0]
        ep_ports = [{k: v for k, v in {"name": p.get("name"), "port": _target_port(p, sample)
                                       if sample else p.get("targetPort", p["port"]),
                                       "protocol": p.get("protocol", "TCP")}.items()
                     if v is not None} for p in ports]
        subsets = []
        if pods:
            subset: dict[str, Any] = {"ports": ep_ports}
            if ready:
                subset["addresses"] = [address(p) for p in ready]
            if not_ready:
                subset["notReadyAddresses"] = [address(p) for p in not_ready]
            subsets.append(subset)
        endpoints = {"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": name, "namespace": ns, "labels": meta.get("labels")
                                  or {}}, "subsets": subsets}
        await self._put(endpoints, svc, ctx)
        slice_obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                     "metadata": {"name": f"{name}-{meta['uid'][:5]}", "namespace": ns,
                                  "labels": {**(meta.get("labels") or {}), SLICE_LABEL: name,
                                             "endpointslice.kubernetes.io/managed-by":
                                             "endpointslice-controller.k8s.io"}},
                     "addressType": "IPv4", "ports": ep_ports,
                     "endpoints": [{"addresses": [p["status"]["podIP"]],
                                    "conditions": {"ready": pod_ready(p),
                                                   "serving": pod_ready(p),
                                                   "terminating": False},
                                    "nodeName": address(p)["nodeName"],
                                    "targetRef": address(p)["targetRef"]} for p in pods]}
        await self._put(slice_obj, svc, ctx)

    async def _put(self, obj: dict[str, Any], owner: dict[str, Any], ctx: Context) -> None:
        info_group = "discovery.k8s.io" if obj["kind"] == "EndpointSlice" else ""
        plural = "endpointslices" if obj["kind"] == "EndpointSlice" else "endpoints"
        meta = obj["metadata"]
        current = await ctx.objects.get(info_group, plural, meta["namespace"], meta["name"])
        if current is None:
            await ctx.objects.create(obj, owner=owner)
            return
        body = {k: v for k, v in obj.items() if k not in ("metadata",)}
        same = all(current.get(k) == v for k, v in body.items()) and \
            (current["metadata"].get("labels") or {}) == meta.get("labels")
        if not same:
            from flowyard.controllers.objects import owner_ref

            meta = {**current["metadata"], "labels": meta.get("labels"),
                    "ownerReferences": [owner_ref(owner)]}
            await ctx.objects.update({**current, **body, "metadata": meta}, check=False)

    async def _route(self, svc: dict[str, Any], pods: list[dict[str, Any]], ctx: Context
                     ) -> list[str]:
        spec = svc["spec"]
        ip = spec.get("clusterIP")
        if not ip or ip == "None":
            await _proxy(ctx).drop(svc["metadata"]["uid"])
            return []
        if not _proxy(ctx).serves(svc["metadata"]["uid"], ip):
            problem = await asyncio.to_thread(proxy.add_address, ip)
            if problem:
                return [f"cannot serve ClusterIP {ip}: {problem}"]
        ready = [p for p in pods if pod_ready(p)]
        routes = []
        for port in spec.get("ports") or []:
            if port.get("protocol", "TCP") != "TCP":
                continue
            backends = [(p["status"]["podIP"], t) for p in ready
                        if (t := _target_port(port, p)) is not None]
            routes.append((ip, int(port["port"]), backends))
            if port.get("nodePort"):
                routes.append(("127.0.0.1", int(port["nodePort"]), backends))
        return await _proxy(ctx).sync(svc["metadata"]["uid"], routes)

    async def finalize(self, obj: dict[str, Any], ctx: Context) -> list[tuple[str, str, str]]:
        await _proxy(ctx).drop(obj["metadata"]["uid"])
        ip = (obj.get("spec") or {}).get("clusterIP")
        if ip and ip != "None":
            await asyncio.to_thread(proxy.remove_address, ip)
        # Its Endpoints and EndpointSlice go with it: the garbage collector follows their
        # ownerReferences.
        await dns.refresh_all(ctx)
        return []

    async def shutdown(self, ctx: Context) -> None:
        await _proxy(ctx).close()
