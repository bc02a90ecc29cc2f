"""What Flowyard checks in the spec of the Kubeflow kinds it knows. Only fields a controller
relies on are required; everything else passes through untouched."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from flowyard.resources.meta import Loose
from flowyard.resources.podspec import PodSpec, PodTemplateSpec


class ReplicaSpec(Loose):
    replicas: int = Field(default=1, ge=0)
    template: PodTemplateSpec


class TFJobSpec(Loose):
    tfReplicaSpecs: dict[str, ReplicaSpec] = Field(min_length=1)


class PyTorchJobSpec(Loose):
    pytorchReplicaSpecs: dict[str, ReplicaSpec] = Field(min_length=1)


class MPIJobSpec(Loose):
    mpiReplicaSpecs: dict[str, ReplicaSpec] = Field(min_length=1)


class XGBoostJobSpec(Loose):
    xgbReplicaSpecs: dict[str, ReplicaSpec] = Field(min_length=1)


class PaddleJobSpec(Loose):
    paddleReplicaSpecs: dict[str, ReplicaSpec] = Field(min_length=1)


class JAXJobSpec(Loose):
    jaxReplicaSpecs: dict[str, ReplicaSpec] = Field(min_length=1)


class JobSetJobTemplateSpec(Loose):
    template: PodTemplateSpec


class JobSetJobTemplate(Loose):
    spec: JobSetJobTemplateSpec


class ReplicatedJob(Loose):
    name: str = Field(min_length=1)
    replicas: int = Field(default=1, ge=0)
    template: JobSetJobTemplate


class JobSetSpec(Loose):
    replicatedJobs: list[ReplicatedJob] = Field(default_factory=list)


class JobSetTemplate(Loose):
    spec: JobSetSpec


class TrainingRuntimeSpec(Loose):
    """A TrainingRuntime's JobSet template: each replicated job's pod template is checked."""

    template: JobSetTemplate


class RuntimeRef(Loose):
    name: str = Field(min_length=1)


class TrainJobSpec(Loose):
    runtimeRef: RuntimeRef


class Objective(Loose):
    type: Literal["minimize", "maximize"]
    objectiveMetricName: str = Field(min_length=1)


class Algorithm(Loose):
    algorithmName: str = Field(min_length=1)


class FeasibleSpace(Loose):
    min: str | None = None
    max: str | None = None
    values: list[str] | None = Field(default=None, alias="list")  # `list` would shadow the type
    step: str | None = None


class ParameterSpec(Loose):
    name: str = Field(min_length=1)
    parameterType: Literal["int", "double", "categorical", "discrete"]
    feasibleSpace: FeasibleSpace


class KatibExperimentSpec(Loose):
    objective: Objective
    algorithm: Algorithm
    parameters: list[ParameterSpec] = Field(min_length=1)
    trialTemplate: dict[str, Any]
    maxTrialCount: int | None = Field(default=None, ge=1)
    parallelTrialCount: int | None = Field(default=None, ge=1)
    maxFailedTrialCount: int | None = Field(default=None, ge=0)


class InferenceServiceSpec(Loose):
    predictor: dict[str, Any]


class NotebookTemplate(Loose):
    spec: PodSpec


class NotebookSpec(Loose):
    template: NotebookTemplate


class Owner(Loose):
    kind: str = "User"
    name: str = Field(min_length=1)


class ProfileSpec(Loose):
    owner: Owner


class WorkflowSpec(Loose):
    entrypoint: str | None = None
    templates: list[dict[str, Any]] | None = None
    workflowTemplateRef: dict[str, Any] | None = None


class ResourceRequests(Loose):
    requests: dict[str, str] = Field(default_factory=dict)


class PersistentVolumeClaimSpec(Loose):
    accessModes: list[str] = Field(default_factory=lambda: ["ReadWriteOnce"])
    resources: ResourceRequests = Field(default_factory=ResourceRequests)
