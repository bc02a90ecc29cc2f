"""PersistentVolumeClaim -> a named local volume: a folder under $FLOWYARD_HOME/volumes that
pipeline tasks mount by the claim's name (see pipelines/platform_spec.py); outside the
`default` namespace the volume is named `namespace.claim` (store/volumes.py: claim_volume)."""

from __future__ import annotations

import asyncio
from typing import Any

from flowyard.controllers.context import Context
from flowyard.controllers.registry import Outcome
from flowyard.store.volumes import VolumeStore, claim_volume


class VolumeClaimController:
    group = ""
    kind = "PersistentVolumeClaim"

    async def reconcile(self, obj: dict[str, Any], ctx: Context) -> Outcome:
        name = claim_volume(obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        status = obj.get("status") or {}
        spec = obj.get("spec") or {}
        size = str(((spec.get("resources") or {}).get("requests") or {}).get("storage", ""))
        volumes = VolumeStore(ctx.store)
        existed = await asyncio.to_thread(volumes.get, name)
        vol = existed or await asyncio.to_thread(volumes.create, name, size)
        want = {"phase": "Bound", "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
                "capacity": {"storage": size} if size else {},
                "conditions": [{"type": "Bound", "status": "True", "reason": "LocalVolume",
                                "message": f"bound to {vol.path}"}]}
        if status == want:
            return Outcome()
        events = [] if existed else [("Normal", "Provisioned",
                                      f"created local volume {name} at {vol.path}")]
        return Outcome(status=want, events=events)

    async def finalize(self, obj: dict[str, Any], ctx: Context) -> list[
            tuple[str, str, str]]:
        name = claim_volume(obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        removed = await asyncio.to_thread(VolumeStore(ctx.store).delete, name)
        return [("Normal", "Deleted", f"removed local volume {name}")] if removed else []
