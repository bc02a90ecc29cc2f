"""The core/v1 PodSpec as Flowyard checks it, wherever a pod template appears (Pod, Job,
Deployment, ReplicaSet, StatefulSet, the training kinds' replica templates, Notebook, training
runtimes). Only shapes the kubelet relies on are modelled; every other field passes through.
An error names the field's full path, as `spec.tfReplicaSpecs.Worker.template.spec.containers`."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from flowyard.resources import quantity
from flowyard.resources.meta import Loose

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def _label(value: str, what: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(f"{what} {value!r}: a DNS label (lower-case letters, digits and '-', "
                         "at most 63 characters, starting and ending with a letter or digit)")
    return value


def _one_of(obj: Loose, fields: tuple[str, ...], what: str, required: bool = True) -> None:
    given = [f for f in fields if getattr(obj, f, None) is not None]
    if len(given) > 1:
        raise ValueError(f"{what}: give only one of {', '.join(fields)} (got {', '.join(given)})")
    if required and not given:
        raise ValueError(f"{what}: give one of {', '.join(fields)}")


class KeySelector(Loose):
    name: str = Field(default="", description="the ConfigMap or Secret")
    key: str = Field(min_length=1)
    optional: bool = False


class FieldRef(Loose):
    fieldPath: str = Field(min_length=1)
    apiVersion: str = "v1"


class ResourceFieldRef(Loose):
    resource: Literal["limits.cpu", "limits.memory", "limits.ephemeral-storage",
                      "requests.cpu", "requests.memory", "requests.ephemeral-storage",
                      "limits.nvidia.com/gpu", "requests.nvidia.com/gpu"]
    containerName: str | None = None
    divisor: str | int | None = None


class EnvVarSource(Loose):
    secretKeyRef: KeySelector | None = None
    configMapKeyRef: KeySelector | None = None
    fieldRef: FieldRef | None = None
    resourceFieldRef: ResourceFieldRef | None = None

    @model_validator(mode="after")
    def _one(self) -> EnvVarSource:
        _one_of(self, ("secretKeyRef", "configMapKeyRef", "fieldRef", "resourceFieldRef"),
                "valueFrom")
        return self


class EnvVar(Loose):
    name: str = Field(min_length=1)
    value: str | None = None
    valueFrom: EnvVarSource | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _ENV_NAME.match(v):
            raise ValueError(f"env name {v!r}: letters, digits, '_', '-' or '.', not starting "
                             "with a digit")
        return v

    @model_validator(mode="after")
    def _value(self) -> EnvVar:
        if self.value is not None and self.valueFrom is not None:
            raise ValueError(f"env {self.name}: give value or valueFrom, not both")
        return self


class NameRef(Loose):
    name: str = Field(min_length=1)
    optional: bool = False


class EnvFromSource(Loose):
    prefix: str = ""
    configMapRef: NameRef | None = None
    secretRef: NameRef | None = None

    @model_validator(mode="after")
    def _one(self) -> EnvFromSource:
        _one_of(self, ("configMapRef", "secretRef"), "envFrom")
        return self


class ContainerPort(Loose):
    containerPort: int = Field(ge=1, le=65535)
    name: str | None = None
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    hostPort: int | None = Field(default=None, ge=1, le=65535)


def _check_quantities(values: dict[str, Any], where: str) -> dict[str, Any]:
    for name, value in values.items():
        try:
            quantity.parse(value)
        except ValueError as exc:
            raise ValueError(f"{where}.{name}: {exc}") from None
    return values


class ResourceRequirements(Loose):
    requests: dict[str, str | int | float] = Field(default_factory=dict)
    limits: dict[str, str | int | float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _quantities(self) -> ResourceRequirements:
        _check_quantities(self.requests, "requests")
        _check_quantities(self.limits, "limits")
        for name, limit in self.limits.items():
            req = self.requests.get(name)
            if req is not None and quantity.parse(req) > quantity.parse(limit):
                raise ValueError(f"requests.{name}: {req} is more than its limit {limit}")
        return self


class VolumeMount(Loose):
    name: str = Field(min_length=1)
    mountPath: str = Field(min_length=1)
    readOnly: bool = False
    subPath: str | None = None

    @field_validator("mountPath")
    @classmethod
    def _absolute(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError(f"mountPath {v!r}: an absolute path")
        return v


class ExecAction(Loose):
    command: list[str] = Field(min_length=1)


class HTTPGetAction(Loose):
    port: int | str
    path: str = "/"
    host: str | None = None
    scheme: Literal["HTTP", "HTTPS"] = "HTTP"
    httpHeaders: list[dict[str, str]] = Field(default_factory=list)


class TCPSocketAction(Loose):
    port: int | str
    host: str | None = None


class GRPCAction(Loose):
    port: int = Field(ge=1, le=65535)
    service: str | None = None


class Handler(Loose):
    exec: ExecAction | None = None
    httpGet: HTTPGetAction | None = None
    tcpSocket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    sleep: dict[str, Any] | None = None


class Probe(Handler):
    initialDelaySeconds: int = Field(default=0, ge=0)
    periodSeconds: int = Field(default=10, ge=1)
    timeoutSeconds: int = Field(default=1, ge=1)
    successThreshold: int = Field(default=1, ge=1)
    failureThreshold: int = Field(default=3, ge=1)
    terminationGracePeriodSeconds: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one(self) -> Probe:
        _one_of(self, ("exec", "httpGet", "tcpSocket", "grpc"), "probe")
        return self


class LifecycleHandler(Handler):
    @model_validator(mode="after")
    def _one(self) -> LifecycleHandler:
        _one_of(self, ("exec", "httpGet", "tcpSocket", "sleep"), "lifecycle handler")
        return self


class Lifecycle(Loose):
    postStart: LifecycleHandler | None = None
    preStop: LifecycleHandler | None = None


class Container(Loose):
    name: str
    image: str = Field(min_length=1)
    command: list[str] | None = None
    args: list[str] | None = None
    workingDir: str | None = None
    ports: list[ContainerPort] = Field(default_factory=list)
    env: list[EnvVar] = Field(default_factory=list)
    envFrom: list[EnvFromSource] = Field(default_factory=list)
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    volumeMounts: list[VolumeMount] = Field(default_factory=list)
    livenessProbe: Probe | None = None
    readinessProbe: Probe | None = None
    startupProbe: Probe | None = None
    lifecycle: Lifecycle | None = None
    restartPolicy: Literal["Always"] | None = None  # only init containers: a sidecar
    imagePullPolicy: Literal["Always", "IfNotPresent", "Never"] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _label(v, "container name")

    @field_validator("workingDir")
    @classmethod
    def _wd(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("/"):
            raise ValueError(f"workingDir {v!r}: an absolute path")
        return v


class KeyToPath(Loose):
    key: str = Field(min_length=1)
    path: str = Field(min_length=1)
    mode: int | None = Field(default=None, ge=0, le=0o777)

    @field_validator("path")
    @classmethod
    def _relative(cls, v: str) -> str:
        if v.startswith("/") or ".." in v.split("/"):
            raise ValueError(f"path {v!r}: a relative path without '..'")
        return v


class ConfigMapVolume(Loose):
    name: str = Field(min_length=1)
    items: list[KeyToPath] = Field(default_factory=list)
    defaultMode: int = Field(default=0o644, ge=0, le=0o777)
    optional: bool = False


class SecretVolume(Loose):
    secretName: str = Field(min_length=1)
    items: list[KeyToPath] = Field(default_factory=list)
    defaultMode: int = Field(default=0o644, ge=0, le=0o777)
    optional: bool = False


class EmptyDirVolume(Loose):
    medium: Literal["", "Memory"] = ""
    sizeLimit: str | None = None


class ClaimVolume(Loose):
    claimName: str = Field(min_length=1)
    readOnly: bool = False


class DownwardItem(Loose):
    path: str = Field(min_length=1)
    fieldRef: FieldRef | None = None
    resourceFieldRef: ResourceFieldRef | None = None
    mode: int | None = Field(default=None, ge=0, le=0o777)

    @model_validator(mode="after")
    def _one(self) -> DownwardItem:
        _one_of(self, ("fieldRef", "resourceFieldRef"), f"downwardAPI item {self.path}")
        return self


class DownwardAPIVolume(Loose):
    items: list[DownwardItem] = Field(default_factory=list)
    defaultMode: int = Field(default=0o644, ge=0, le=0o777)


class ProjectionSource(Loose):
    configMap: ConfigMapVolume | None = None
    secret: dict[str, Any] | None = None  # {name, items, optional} in a projection
    downwardAPI: DownwardAPIVolume | None = None
    serviceAccountToken: dict[str, Any] | None = None


class ProjectedVolume(Loose):
    sources: list[ProjectionSource] = Field(default_factory=list)
    defaultMode: int = Field(default=0o644, ge=0, le=0o777)


class HostPathVolume(Loose):
    path: str = Field(min_length=1)
    type: str | None = None


VOLUME_SOURCES = ("persistentVolumeClaim", "configMap", "secret", "emptyDir", "downwardAPI",
                  "projected", "hostPath")


class Volume(Loose):
    name: str
    persistentVolumeClaim: ClaimVolume | None = None
    configMap: ConfigMapVolume | None = None
    secret: SecretVolume | None = None
    emptyDir: EmptyDirVolume | None = None
    downwardAPI: DownwardAPIVolume | None = None
    projected: ProjectedVolume | None = None
    hostPath: HostPathVolume | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _label(v, "volume name")

    @model_validator(mode="after")
    def _one(self) -> Volume:
        _one_of(self, VOLUME_SOURCES, f"volume {self.name}", required=False)
        return self


class PodSpec(Loose):
    containers: list[Container] = Field(min_length=1)
    initContainers: list[Container] = Field(default_factory=list)
    volumes: list[Volume] = Field(default_factory=list)
    restartPolicy: Literal["Always", "OnFailure", "Never"] = "Always"
    terminationGracePeriodSeconds: int | None = Field(default=None, ge=0)
    activeDeadlineSeconds: int | None = Field(default=None, ge=1)
    hostname: str | None = None
    subdomain: str | None = None
    nodeName: str | None = None
    serviceAccountName: str | None = None

    @field_validator("hostname", "subdomain")
    @classmethod
    def _dns(cls, v: str | None) -> str | None:
        return None if v is None else _label(v, "hostname")

    @model_validator(mode="after")
    def _refs(self) -> PodSpec:
        seen: set[str] = set()
        for c in [*self.initContainers, *self.containers]:
            if c.name in seen:
                raise ValueError(f"container name {c.name!r} is used twice")
            seen.add(c.name)
        volumes = [v.name for v in self.volumes]
        if len(set(volumes)) != len(volumes):
            raise ValueError("volumes: each name may appear only once")
        for c in [*self.initContainers, *self.containers]:
            for m in c.volumeMounts:
                if m.name not in volumes:
                    raise ValueError(f"container {c.name}: volumeMount {m.name!r} names no "
                                     f"volume of the pod (volumes: {', '.join(volumes) or 'none'})")
        return self


class TemplateMeta(Loose):
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class PodTemplateSpec(Loose):
    metadata: TemplateMeta = Field(default_factory=TemplateMeta)
    spec: PodSpec
