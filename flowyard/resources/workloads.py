"""Specs of the core and apps/batch kinds the workload controllers reconcile: what Kubernetes'
own validation would refuse is refused here, with the field's path."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from flowyard.resources import selectors
from flowyard.resources.meta import Loose
from flowyard.resources.podspec import PodSpec, PodTemplateSpec


class LabelSelector(Loose):
    matchLabels: dict[str, str] = Field(default_factory=dict)
    matchExpressions: list[dict[str, Any]] = Field(default_factory=list)


def _selects(selector: LabelSelector, template: PodTemplateSpec, kind: str) -> None:
    if not selectors.match_selector(selector.model_dump(), template.metadata.labels):
        raise ValueError(f"selector does not match template labels: a {kind} would never "
                         "find the pods it makes")


class PodFailurePolicyRule(Loose):
    action: Literal["FailJob", "Ignore", "Count", "FailIndex"]
    onExitCodes: dict[str, Any] | None = None
    onPodConditions: list[dict[str, Any]] | None = None


class PodFailurePolicy(Loose):
    rules: list[PodFailurePolicyRule] = Field(default_factory=list)


class JobSpec(Loose):
    template: PodTemplateSpec
    completions: int | None = Field(default=None, ge=0)
    parallelism: int | None = Field(default=None, ge=0)
    backoffLimit: int | None = Field(default=None, ge=0)
    activeDeadlineSeconds: int | None = Field(default=None, ge=1)
    ttlSecondsAfterFinished: int | None = Field(default=None, ge=0)
    completionMode: Literal["NonIndexed", "Indexed"] = "NonIndexed"
    suspend: bool = False
    podFailurePolicy: PodFailurePolicy | None = None
    selector: LabelSelector | None = None

    @model_validator(mode="after")
    def _restart(self) -> JobSpec:
        if self.template.spec.restartPolicy not in ("Never", "OnFailure"):
            raise ValueError("template.spec.restartPolicy: a Job's pods need Never or "
                             "OnFailure")
        if self.completionMode == "Indexed" and self.completions is None:
            raise ValueError("completions: an Indexed Job needs completions")
        return self


class RollingUpdate(Loose):
    maxSurge: int | str | None = None
    maxUnavailable: int | str | None = None


class DeploymentStrategy(Loose):
    type: Literal["RollingUpdate", "Recreate"] = "RollingUpdate"
    rollingUpdate: RollingUpdate | None = None


def _always(template: PodTemplateSpec, kind: str) -> None:
    if template.spec.restartPolicy != "Always":
        raise ValueError(f"template.spec.restartPolicy: a {kind}'s pods restart Always")


class DeploymentSpec(Loose):
    selector: LabelSelector
    template: PodTemplateSpec
    replicas: int = Field(default=1, ge=0)
    strategy: DeploymentStrategy = Field(default_factory=DeploymentStrategy)
    revisionHistoryLimit: int = Field(default=10, ge=0)
    minReadySeconds: int = Field(default=0, ge=0)
    progressDeadlineSeconds: int = Field(default=600, ge=1)
    paused: bool = False

    @model_validator(mode="after")
    def _sel(self) -> DeploymentSpec:
        _selects(self.selector, self.template, "Deployment")
        _always(self.template, "Deployment")
        return self


class ReplicaSetSpec(Loose):
    selector: LabelSelector
    template: PodTemplateSpec
    replicas: int = Field(default=1, ge=0)
    minReadySeconds: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _sel(self) -> ReplicaSetSpec:
        _selects(self.selector, self.template, "ReplicaSet")
        _always(self.template, "ReplicaSet")
        return self


class StatefulSetSpec(Loose):
    selector: LabelSelector
    template: PodTemplateSpec
    replicas: int = Field(default=1, ge=0)
    serviceName: str | None = None


class ServicePort(Loose):
    port: int = Field(ge=1, le=65535)
    name: str | None = None
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    targetPort: int | str | None = None
    nodePort: int | None = Field(default=None, ge=30000, le=32767)


class ServiceSpec(Loose):
    ports: list[ServicePort] = Field(default_factory=list)
    selector: dict[str, str] | None = None
    type: Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"] = "ClusterIP"
    clusterIP: str | None = None
    externalName: str | None = None

    @model_validator(mode="after")
    def _ports(self) -> ServiceSpec:
        names = [p.name for p in self.ports]
        if len(self.ports) > 1 and (None in names or len(set(names)) != len(names)):
            raise ValueError("ports: with more than one port each needs its own name")
        if self.type == "ExternalName" and not self.externalName:
            raise ValueError("externalName: an ExternalName Service needs one")
        if self.type != "ExternalName" and not self.ports and self.clusterIP != "None":
            raise ValueError("ports: a Service needs at least one port")
        return self


__all__ = ["DeploymentSpec", "JobSpec", "PodSpec", "ReplicaSetSpec", "ServiceSpec",
           "StatefulSetSpec"]
