"""apps/v1 Deployment: one ReplicaSet per pod template (named by its pod-template-hash),
numbered by the deployment.kubernetes.io/revision annotation; a RollingUpdate within
maxSurge/maxUnavailable, or Recreate; old ReplicaSets kept up to revisionHistoryLimit, so
`kubectl rollout undo` finds the template to go back to. Status and conditions as
Kubernetes writes them, which is what `kubectl rollout status` reads."""

from __future__ import annotations

import copy
import math
from typing import Any

from flowyard.controllers.context import Context
from flowyard.controllers.pods.status import rfc3339
from flowyard.controllers.registry import Outcome
from flowyard.controllers.templates import condition, template_hash

HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"


def _scaled(value: int | str | None, replicas: int, default: str, round_up: bool) -> int:
    value = default if value is None else value
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * replicas / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def _revision(rs: dict[str, Any]) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, 0))
    except ValueError:
        return 0


def _template_without_hash(rs: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    (template.get("metadata") or {}).get("labels", {}).pop(HASH, None)
    return template


def _norm(template: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(template)
    meta = t.setdefault("metadata", {})
    for key in ("labels", "annotations"):
        if not meta.get(key):
            meta.pop(key, None)
    if not meta:
        t.pop("metadata")
    return t


class DeploymentController:
    group = "apps"
    kind = "Deployment"

    async def reconcile(self, obj: dict[str, Any], ctx: Context) -> Outcome:
        if obj["metadata"].get("deletionTimestamp"):
            return Outcome()  # being deleted: nothing new is made for it
        spec, meta = obj.get("spec") or {}, obj["metadata"]
        replicas = int(spec.get("replicas", 1))
        template = spec["template"]
        events: list[tuple[str, str, str]] = []
        owned = await ctx.objects.children(obj, "apps", "replicasets")
        new = next((rs for rs in owned if _norm(_template_without_hash(rs)) == _norm(template)),
                   None)
        old = [rs for rs in owned if rs is not new]
        top = max([_revision(rs) for rs in owned] or [0])
        strategy = (spec.get("strategy") or {})
        recreate = strategy.get("type") == "Recreate"
        rolling = strategy.get("rollingUpdate") or {}
        surge = _scaled(rolling.get("maxSurge"), replicas, "25%", True)
        unavailable = _scaled(rolling.get("maxUnavailable"), replicas, "25%", False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        created_new = False
        if new is None:
            new = await self._create_rs(obj, template, top + 1,
                                        0 if (old and any(self._size(rs) for rs in old))
                                        else replicas, surge, ctx)
            if new is None:
                return Outcome(requeue_after=1.0)
            created_new = True
            scaled_to = self._size(new)
            if scaled_to:
                events.append(("Normal", "ScalingReplicaSet", f"Scaled up replica set "
                               f"{new['metadata']['name']} from 0 to {scaled_to}"))
        elif _revision(new) < top:
            # Rolled back to an older template: it becomes the newest revision again.
            new = await self._annotate(new, {REVISION: str(top + 1)}, ctx) or new
        if (meta.get("annotations") or {}).get(REVISION) != str(_revision(new)):
            anns = {**(meta.get("annotations") or {}), REVISION: str(_revision(new))}
            updated = await ctx.objects.update({**obj, "metadata": {**meta, "annotations": anns}})
            if updated is None:
                return Outcome()  # changed meanwhile: the newer object comes back to us
            obj, meta = updated, updated["metadata"]
        if not spec.get("paused"):
            if recreate:
                events += await self._recreate(new, old, replicas, ctx)
            else:
                events += await self._roll(new, old, replicas, surge, unavailable, ctx)
            events += await self._prune(old, int(spec.get("revisionHistoryLimit", 10)), ctx)
        status = self._status(obj, new, old, replicas, unavailable, created_new)
        return Outcome(status=status, events=events)

    @staticmethod
    def _size(rs: dict[str, Any]) -> int:
        return int((rs.get("spec") or {}).get("replicas", 0))

    async def _create_rs(self, dep: dict[str, Any], template: dict[str, Any], revision: int,
                         replicas: int, surge: int, ctx: Context) -> dict[str, Any] | None:
        meta, spec = dep["metadata"], dep["spec"]
        h = template_hash(template)
        tmpl = copy.deepcopy(template)
        tmpl.setdefault("metadata", {}).setdefault("labels", {})[HASH] = h
        selector = copy.deepcopy(spec["selector"])
        selector.setdefault("matchLabels", {})[HASH] = h
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{meta['name']}-{h}", "namespace": meta.get("namespace"),
                           "labels": dict(tmpl["metadata"]["labels"]),
                           "annotations": {REVISION: str(revision),
                                           DESIRED: str(spec.get("replicas", 1)),
                                           MAX: str(int(spec.get("replicas", 1)) + surge)}},
              "spec": {"replicas": replicas, "selector": selector, "template": tmpl,
                       "minReadySeconds": spec.get("minReadySeconds", 0)}}
        made = await ctx.objects.create(rs, owner=dep)
        if made is None:  # a ReplicaSet of that name exists (a hash collision or a race)
            return await ctx.objects.get("apps", "replicasets", meta.get("namespace") or "",
                                         rs["metadata"]["name"])
        return made

    async def _annotate(self, rs: dict[str, Any], anns: dict[str, str], ctx: Context
                        ) -> dict[str, Any] | None:
        meta = rs["metadata"]
        return await ctx.objects.update({**rs, "metadata": {
            **meta, "annotations": {**(meta.get("annotations") or {}), **anns}}})

    async def _scale(self, rs: dict[str, Any], to: int, ctx: Context) -> list[
            tuple[str, str, str]]:
        current = self._size(rs)
        if current == to:
            return []
        updated = await ctx.objects.update({**rs, "spec": {**rs["spec"], "replicas": to}})
        if updated is None:
            return []
        rs.clear()
        rs.update(updated)
        word = "up" if to > current else "down"
        return [("Normal", "ScalingReplicaSet", f"Scaled {word} replica set "
                 f"{rs['metadata']['name']} from {current} to {to}")]

    async def _roll(self, new: dict[str, Any], old: list[dict[str, Any]], replicas: int,
                    surge: int, unavailable: int, ctx: Context) -> list[tuple[str, str, str]]:
        events: list[tuple[str, str, str]] = []
        total = self._size(new) + sum(self._size(rs) for rs in old)
        # Scale the new ReplicaSet up as far as maxSurge allows.
        if self._size(new) < replicas:
            room = replicas + surge - total
            if room > 0:
                events += await self._scale(new, min(replicas, self._size(new) + room), ctx)
        elif self._size(new) > replicas:
            events += await self._scale(new, replicas, ctx)
        # Scale old ones down as far as maxUnavailable allows.
        min_available = replicas - unavailable
        avail = sum(int((rs.get("status") or {}).get("availableReplicas", 0))
                    for rs in [new, *old])
        can_remove = avail - min_available
        for rs in sorted(old, key=_revision):
            size = self._size(rs)
            if not size:
                continue
            # Pods of an old ReplicaSet that are not available cost no availability.
            unhealthy = size - int((rs.get("status") or {}).get("availableReplicas", 0))
            drop = min(size, max(0, unhealthy) + max(0, can_remove))
            if drop <= 0:
                continue
            can_remove -= max(0, drop - max(0, unhealthy))
            events += await self._scale(rs, size - drop, ctx)
        return events

    async def _recreate(self, new: dict[str, Any], old: list[dict[str, Any]], replicas: int,
                        ctx: Context) -> list[tuple[str, str, str]]:
        events: list[tuple[str, str, str]] = []
        for rs in old:
            events += await self._scale(rs, 0, ctx)
        if any(int((rs.get("status") or {}).get("replicas", 0)) for rs in old):
            return events  # wait until the old pods are gone
        return events + await self._scale(new, replicas, ctx)

    async def _prune(self, old: list[dict[str, Any]], limit: int, ctx: Context) -> list[
            tuple[str, str, str]]:
        idle = sorted([rs for rs in old if not self._size(rs) and
                       not int((rs.get("status") or {}).get("replicas", 0))], key=_revision)
        events = []
        for rs in idle[:max(0, len(idle) - limit)]:
            if await ctx.objects.delete(rs):
                events.append(("Normal", "SuccessfulDelete",
                               f"Deleted replica set {rs['metadata']['name']}"))
        return events

    def _status(self, dep: dict[str, Any], new: dict[str, Any], old: list[dict[str, Any]],
                replicas: int, unavailable: int, created_new: bool) -> dict[str, Any]:
        def total(field: str) -> int:
            return sum(int((rs.get("status") or {}).get(field, 0)) for rs in [new, *old])

        now = rfc3339()
        status: dict[str, Any] = copy.deepcopy(dep.get("status") or {})
        new_status = new.get("status") or {}
        status.update(observedGeneration=dep["metadata"].get("generation", 1),
                      replicas=total("replicas"),
                      updatedReplicas=int(new_status.get("replicas", 0)),
                      readyReplicas=total("readyReplicas"),
                      availableReplicas=total("availableReplicas"))
        status["unavailableReplicas"] = max(0, replicas - status["availableReplicas"])
        for key in ("readyReplicas", "availableReplicas", "unavailableReplicas",
                    "updatedReplicas", "replicas"):
            if not status[key]:
                status.pop(key)  # Kubernetes omits zero counts
        ok = status.get("availableReplicas", 0) >= replicas - unavailable
        condition(status, "Available", ok,
                  "MinimumReplicasAvailable" if ok else "MinimumReplicasUnavailable",
                  "Deployment has minimum availability." if ok else
                  "Deployment does not have minimum availability.", now, update_time=True)
        name = new["metadata"]["name"]
        done = (int(new_status.get("availableReplicas", 0)) >= replicas and
                status.get("replicas", 0) == status.get("updatedReplicas", 0) == replicas)
        if done:
            reason, msg = "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully ' \
                                                    "progressed."
        elif created_new:
            reason, msg = "NewReplicaSetCreated", f'Created new replica set "{name}"'
        else:
            reason, msg = "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'
        condition(status, "Progressing", True, reason, msg, now, update_time=True)
        status["conditions"].sort(key=lambda c: 0 if c["type"] == "Available" else 1)
        return status

    async def finalize(self, obj: dict[str, Any], ctx: Context) -> list[tuple[str, str, str]]:
        return []  # its ReplicaSets go with it: the garbage collector follows ownerReferences
