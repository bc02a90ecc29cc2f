"""Discovery documents: /api, /apis, /api/v1, /apis/{group}/{version}, as kubectl reads them
to map a kind or a short name to a URL (legacy discovery: kubectl 1.32 asks for the aggregated
form first and falls back to these when the answer is plain JSON)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from flowyard.resources.kinds import KindInfo

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SERVER_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-flowyard",
                  "gitCommit": "0000000000000000000000000000000000000000",
                  "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                  "goVersion": "go1.23", "compiler": "gc", "platform": "linux/amd64"}


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes' version order: v1 > v1beta2 > v1beta1 > v1alpha1 (GA, then beta, alpha)."""
    import re

    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", version)
    if m is None:
        return (0, 0, 0)
    stage = {"alpha": 1, "beta": 2, None: 3}[m.group(2)]
    return (stage, int(m.group(1)), int(m.group(3) or 0))


def _hash(info: KindInfo) -> str:
    return hashlib.sha256(f"{info.group}/{info.version}/{info.kind}".encode()).hexdigest()[:16]


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def group_list(kinds: Iterable[KindInfo]) -> dict[str, Any]:
    versions: dict[str, set[str]] = {}
    for k in kinds:
        if k.group:
            versions.setdefault(k.group, set()).add(k.version)
    groups = []
    for name in sorted(versions):
        ordered = sorted(versions[name], key=version_priority, reverse=True)
        gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in ordered]
        groups.append({"name": name, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(kinds: Iterable[KindInfo], name: str) -> dict[str, Any] | None:
    for g in group_list(kinds)["groups"]:
        if g["name"] == name:
            return {"kind": "APIGroup", "apiVersion": "v1", **g}
    return None


def resource_list(kinds: Iterable[KindInfo], group_name: str, version: str
                  ) -> dict[str, Any] | None:
    served = [k for k in kinds if k.group == group_name and k.version == version]
    if not served:
        return None
    resources: list[dict[str, Any]] = []
    for k in sorted(served, key=lambda k: k.plural):
        entry: dict[str, Any] = {"name": k.plural, "singularName": k.singular,
                                 "namespaced": k.namespaced, "kind": k.kind, "verbs": VERBS,
                                 "storageVersionHash": _hash(k)}
        if k.short_names:
            entry["shortNames"] = list(k.short_names)
        if k.categories:
            entry["categories"] = list(k.categories)
        resources.append(entry)
        for sub in k.subresources:
            if sub == "scale":
                resources.append({"name": f"{k.plural}/scale", "singularName": "",
                                  "namespaced": k.namespaced, "group": "autoscaling",
                                  "version": "v1", "kind": "Scale",
                                  "verbs": ["get", "patch", "update"]})
            elif sub == "log":
                resources.append({"name": f"{k.plural}/log", "singularName": "",
                                  "namespaced": k.namespaced, "kind": k.kind, "verbs": ["get"]})
            else:
                resources.append({"name": f"{k.plural}/{sub}", "singularName": "",
                                  "namespaced": k.namespaced, "kind": k.kind,
                                  "verbs": ["get", "patch", "update"]})
    gv = f"{group_name}/{version}" if group_name else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": resources}


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str) -> bool:
    """kubectl 1.32 asks for aggregated discovery (v2) first; answer it when asked."""
    first = accept.split(",")[0] if accept else ""
    return "as=APIGroupDiscoveryList" in first and "v=v2" in first and "v2beta1" not in first


def _aggregated_resource(k: KindInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resource": k.plural, "singularResource": k.singular,
        "responseKind": {"group": k.group, "version": k.version, "kind": k.kind},
        "scope": "Namespaced" if k.namespaced else "Cluster", "verbs": VERBS}
    if k.short_names:
        out["shortNames"] = list(k.short_names)
    if k.categories:
        out["categories"] = list(k.categories)
    subs = []
    for sub in k.subresources:
        kind = ({"group": "autoscaling", "version": "v1", "kind": "Scale"} if sub == "scale"
                else {"group": k.group, "version": k.version, "kind": k.kind})
        subs.append({"subresource": sub, "responseKind": kind,
                     "verbs": ["get"] if sub == "log" else ["get", "patch", "update"]})
    if subs:
        out["subresources"] = subs
    return out


def aggregated(kinds: Iterable[KindInfo], core: bool) -> dict[str, Any]:
    """The APIGroupDiscoveryList of /api (core: the "" group) or /apis (every other group),
    versions in preference order."""
    by_group: dict[str, dict[str, list[KindInfo]]] = {}
    for k in kinds:
        if (k.group == "") == core:
            by_group.setdefault(k.group, {}).setdefault(k.version, []).append(k)
    items = []
    for name in sorted(by_group):
        versions = sorted(by_group[name], key=version_priority, reverse=True)
        items.append({"metadata": {"name": name, "creationTimestamp": None}, "versions": [
            {"version": v, "freshness": "Current", "resources": [
                _aggregated_resource(k) for k in sorted(by_group[name][v],
                                                        key=lambda k: k.plural)]}
            for v in versions]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}
