"""apps/v1 ReplicaSet: keeps `replicas` pods matching its selector, replacing pods that end
and removing extras (not-ready and newest first, as Kubernetes picks them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flowyard.controllers.context import Context
from flowyard.controllers.registry import Outcome
from flowyard.controllers.templates import pod_from_template, pod_phase, pod_ready, suffix


def available(pod: dict[str, Any], min_ready_s: int, now: float) -> bool:
    if not pod_ready(pod):
        return False
    if not min_ready_s:
        return True
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    since = datetime.strptime(cond["lastTransitionTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC).timestamp()
    return now - since >= min_ready_s


def _delete_order(pod: dict[str, Any]) -> tuple[int, int, str]:
    """Pods to remove first: unscheduled, pending, not ready, then the newest."""
    phase = pod_phase(pod)
    rank = 0 if not (pod.get("spec") or {}).get("nodeName") else 1 if phase == "Pending" else \
        2 if not pod_ready(pod) else 3
    created = pod["metadata"].get("creationTimestamp") or ""
    return rank, 0, "".join(chr(255 - ord(ch)) for ch in created)


class ReplicaSetController:
    group = "apps"
    kind = "ReplicaSet"

    async def reconcile(self, obj: dict[str, Any], ctx: Context) -> Outcome:
        import time

        if obj["metadata"].get("deletionTimestamp"):
            return Outcome()  # being deleted: nothing new is made for it
        spec, meta = obj.get("spec") or {}, obj["metadata"]
        want = int(spec.get("replicas", 1))
        pods = await ctx.objects.children(obj, "", "pods")
        events: list[tuple[str, str, str]] = []
        for p in pods:
            # An ended pod of a ReplicaSet is replaced (its restartPolicy is Always, so this
            # is a pod that cannot run: evicted, or its deadline passed).
            if pod_phase(p) in ("Succeeded", "Failed") and await ctx.objects.delete(p):
                events.append(("Normal", "SuccessfulDelete",
                                   f"Deleted pod: {p['metadata']['name']}"))
        pods = [p for p in pods if pod_phase(p) not in ("Succeeded", "Failed")]
        if len(pods) < want:
            for _ in range(want - len(pods)):
                name = f"{meta['name']}-{suffix()}"
                pod = pod_from_template(spec["template"], name, meta.get("namespace") or
                                        "default", obj)
                made = await ctx.objects.create(pod, owner=obj)
                if made is not None:
                    pods.append(made)
                    events.append(("Normal", "SuccessfulCreate", f"Created pod: {name}"))
        elif len(pods) > want:
            for p in sorted(pods, key=_delete_order)[:len(pods) - want]:
                if await ctx.objects.delete(p):
                    pods.remove(p)
                    events.append(("Normal", "SuccessfulDelete",
                                   f"Deleted pod: {p['metadata']['name']}"))
        now = time.time()
        min_ready = int(spec.get("minReadySeconds") or 0)
        labels = (spec.get("template") or {}).get("metadata", {}).get("labels") or {}
        status = {"replicas": len(pods),
                  "fullyLabeledReplicas": sum(1 for p in pods if all(
                      (p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())),
                  "readyReplicas": sum(1 for p in pods if pod_ready(p)),
                  "availableReplicas": sum(1 for p in pods if available(p, min_ready, now)),
                  "observedGeneration": meta.get("generation", 1)}
        requeue = float(min_ready) if min_ready and status["readyReplicas"] > status[
            "availableReplicas"] else None
        return Outcome(status=status, events=events, requeue_after=requeue)

    async def finalize(self, obj: dict[str, Any], ctx: Context) -> list[tuple[str, str, str]]:
        return []  # its pods go with it: the garbage collector follows ownerReferences
