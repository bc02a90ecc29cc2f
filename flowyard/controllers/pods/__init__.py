"""The kubelet: Pods as local processes through the executor (see kubelet.py, worker.py,
containers.py). Reconcile only makes sure a worker runs each live pod; the worker writes the
pod's status as it goes."""

from __future__ import annotations

from typing import Any

from flowyard.controllers.context import Context
from flowyard.controllers.pods.kubelet import Kubelet
from flowyard.controllers.registry import Outcome


def kubelet_of(ctx: Context) -> Kubelet:
    kubelet = ctx.runtime.get("kubelet")
    if kubelet is None:
        kubelet = ctx.runtime["kubelet"] = Kubelet()
    return kubelet  # type: ignore[no-any-return]


class PodController:
    group = ""
    kind = "Pod"

    async def reconcile(self, obj: dict[str, Any], ctx: Context) -> Outcome:
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            await self.finalize(obj, ctx)
            return Outcome()
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return Outcome()  # nothing runs for a finished pod
        kubelet_of(ctx).ensure(ctx, obj)
        return Outcome()

    async def finalize(self, obj: dict[str, Any], ctx: Context) -> list[tuple[str, str, str]]:
        # Stopping takes the grace period: done beside the manager, which goes on.
        kubelet_of(ctx).remove_later(ctx, obj)
        return []

    async def shutdown(self, ctx: Context) -> None:
        await kubelet_of(ctx).shutdown(ctx)
