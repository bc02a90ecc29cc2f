"""Pods (and ReplicaSets) made from a template the way Kubernetes' controllers name and label
them: generated name suffixes, the template's labels and annotations, the owner reference."""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
from typing import Any

from flowyard.controllers.objects import owner_ref

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes' name generator draws from


def suffix(n: int = 5) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def template_hash(template: dict[str, Any]) -> str:
    """A stable short hash of a pod template (the pod-template-hash label's value)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:10])


def pod_from_template(template: dict[str, Any], name: str, namespace: str,
                      owner: dict[str, Any], labels: dict[str, str] | None = None,
                      annotations: dict[str, str] | None = None) -> dict[str, Any]:
    tmeta = template.get("metadata") or {}
    meta: dict[str, Any] = {
        "name": name, "namespace": namespace,
        "labels": {**(tmeta.get("labels") or {}), **(labels or {})},
        "ownerReferences": [owner_ref(owner)],
    }
    ann = {**(tmeta.get("annotations") or {}), **(annotations or {})}
    if ann:
        meta["annotations"] = ann
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": copy.deepcopy(template.get("spec") or {})}


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def pod_phase(pod: dict[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def condition(status: dict[str, Any], type_: str, value: bool, reason: str, message: str,
              now: str, update_time: bool = False) -> None:
    """Set a controller condition; lastTransitionTime moves when its status changes."""
    conds = status.setdefault("conditions", [])
    want = "True" if value else "False"
    cur = next((c for c in conds if c["type"] == type_), None)
    if cur is None:
        cur = {"type": type_}
        conds.append(cur)
    if cur.get("status") != want:
        cur["lastTransitionTime"] = now
        if update_time:
            cur["lastUpdateTime"] = now
    if update_time and (cur.get("reason") != reason or cur.get("message") != message):
        cur["lastUpdateTime"] = now
    cur.update(status=want, reason=reason, message=message)
    if not update_time:
        cur.setdefault("lastProbeTime", now)
