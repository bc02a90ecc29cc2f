"""ConfigMap -> the config-map store pipelines read (use_config_map_as_env/volume), so a
`flowyard apply` of a ConfigMap is what a pipeline on Kubernetes would see."""

from __future__ import annotations

import asyncio
from typing import Any

from flowyard.controllers.context import Context
from flowyard.controllers.registry import Outcome
from flowyard.store.secrets import SecretStore


class ConfigMapController:
    group = ""
    kind = "ConfigMap"

    async def reconcile(self, obj: dict[str, Any], ctx: Context) -> Outcome:
        meta = obj["metadata"]
        name, ns = meta["name"], meta.get("namespace", "default")
        data = {k: str(v) for k, v in (obj.get("data") or {}).items()}
        store = SecretStore(ctx.store)
        current = await asyncio.to_thread(store.get, name, "ConfigMap", ns)
        if current == data:
            return Outcome()
        await asyncio.to_thread(store.put, name, data, "ConfigMap", ns)
        return Outcome(events=[("Normal", "Synced", f"{len(data)} key(s) available to "
                                                    "pipeline tasks")])

    async def finalize(self, obj: dict[str, Any], ctx: Context) -> list[
            tuple[str, str, str]]:
        meta = obj["metadata"]
        removed = await asyncio.to_thread(SecretStore(ctx.store).delete, meta["name"],
                                          "ConfigMap", meta.get("namespace", "default"))
        return [("Normal", "Deleted", "removed from the config-map store")] if removed else []
