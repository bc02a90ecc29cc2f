"""v1 Namespace (phase Active, Terminating once deletion starts; a `default` ServiceAccount in
each) and v1 ServiceAccount (stored as given: nothing to run)."""

from __future__ import annotations

from typing import Any

from flowyard.controllers.context import Context
from flowyard.controllers.registry import Outcome


class NamespaceController:
    group = ""
    kind = "Namespace"

    async def reconcile(self, obj: dict[str, Any], ctx: Context) -> Outcome:
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return Outcome(status={"phase": "Terminating", "conditions": (
                obj.get("status") or {}).get("conditions") or []})
        name = meta["name"]
        events = []
        if await ctx.objects.get("", "serviceaccounts", name, "default") is None:
            made = await ctx.objects.create({"apiVersion": "v1", "kind": "ServiceAccount",
                                             "metadata": {"name": "default",
                                                          "namespace": name}})
            if made is not None:
                events.append(("Normal", "Created", f"created ServiceAccount {name}/default"))
        return Outcome(status={"phase": "Active"}, events=events)

    async def finalize(self, obj: dict[str, Any], ctx: Context) -> list[tuple[str, str, str]]:
        return []


class ServiceAccountController:
    group = ""
    kind = "ServiceAccount"

    async def reconcile(self, obj: dict[str, Any], ctx: Context) -> Outcome:
        return Outcome()

    async def finalize(self, obj: dict[str, Any], ctx: Context) -> list[tuple[str, str, str]]:
        return []
