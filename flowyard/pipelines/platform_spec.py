"""The Kubernetes platform spec (the second YAML document), read for what it means locally.
Extended by the secrets and volumes features; here: pod metadata and events for the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PlatformConfig:
    executors: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, platform_spec: dict[str, Any] | None) -> PlatformConfig:
        kube = ((platform_spec or {}).get("platforms") or {}).get("kubernetes") or {}
        return cls(executors=(kube.get("deploymentSpec") or {}).get("executors") or {})

    def for_executor(self, label: str) -> dict[str, Any]:
        return self.executors.get(label) or {}

    def env_for(self, label: str) -> dict[str, str]:
        return {}
