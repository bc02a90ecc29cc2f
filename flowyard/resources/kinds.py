"""The kinds Flowyard knows: where each lives in the API (group, version, plural), whether it
is namespaced, and the model its spec must satisfy. Kinds not listed here are still stored."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from flowyard.resources import specs, workloads


@dataclass(frozen=True)
class KindInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    spec: type[BaseModel] | None = None
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


KINDS = [
    KindInfo("kubeflow.org", "v1", "TFJob", "tfjobs", spec=specs.TFJobSpec),
    KindInfo("kubeflow.org", "v1", "PyTorchJob", "pytorchjobs", spec=specs.PyTorchJobSpec),
    KindInfo("kubeflow.org", "v1", "MPIJob", "mpijobs", spec=specs.MPIJobSpec),
    KindInfo("kubeflow.org", "v1", "XGBoostJob", "xgboostjobs", spec=specs.XGBoostJobSpec),
    KindInfo("kubeflow.org", "v1", "PaddleJob", "paddlejobs", spec=specs.PaddleJobSpec),
    KindInfo("kubeflow.org", "v1", "JAXJob", "jaxjobs", spec=specs.JAXJobSpec),
    KindInfo("trainer.kubeflow.org", "v1alpha1", "TrainJob", "trainjobs",
             spec=specs.TrainJobSpec),
    KindInfo("trainer.kubeflow.org", "v1alpha1", "TrainingRuntime", "trainingruntimes",
             spec=specs.TrainingRuntimeSpec),
    KindInfo("trainer.kubeflow.org", "v1alpha1", "ClusterTrainingRuntime",
             "clustertrainingruntimes", namespaced=False, spec=specs.TrainingRuntimeSpec),
    KindInfo("kubeflow.org", "v1beta1", "Experiment", "experiments",
             spec=specs.KatibExperimentSpec),
    KindInfo("kubeflow.org", "v1beta1", "Trial", "trials"),
    KindInfo("kubeflow.org", "v1beta1", "Suggestion", "suggestions"),
    KindInfo("serving.kserve.io", "v1beta1", "InferenceService", "inferenceservices",
             spec=specs.InferenceServiceSpec, short_names=("isvc",)),
    KindInfo("serving.kserve.io", "v1alpha1", "ServingRuntime", "servingruntimes"),
    KindInfo("serving.kserve.io", "v1alpha1", "ClusterServingRuntime", "clusterservingruntimes",
             namespaced=False),
    KindInfo("kubeflow.org", "v1", "Notebook", "notebooks", spec=specs.NotebookSpec),
    KindInfo("kubeflow.org", "v1", "Profile", "profiles", namespaced=False,
             spec=specs.ProfileSpec),
    KindInfo("kubeflow.org", "v1alpha1", "PodDefault", "poddefaults"),
    KindInfo("argoproj.io", "v1alpha1", "Workflow", "workflows", spec=specs.WorkflowSpec,
             short_names=("wf",)),
    KindInfo("argoproj.io", "v1alpha1", "CronWorkflow", "cronworkflows"),
    KindInfo("argoproj.io", "v1alpha1", "WorkflowTemplate", "workflowtemplates"),
    KindInfo("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims",
             spec=specs.PersistentVolumeClaimSpec, short_names=("pvc",)),
    KindInfo("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    KindInfo("", "v1", "Secret", "secrets"),
    # The workloads of Kubernetes itself (controllers/pods, jobs, deployments, services).
    KindInfo("", "v1", "Pod", "pods", spec=workloads.PodSpec, short_names=("po",)),
    KindInfo("", "v1", "Service", "services", spec=workloads.ServiceSpec, short_names=("svc",)),
    KindInfo("", "v1", "Endpoints", "endpoints", short_names=("ep",)),
    KindInfo("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",)),
    KindInfo("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    KindInfo("batch", "v1", "Job", "jobs", spec=workloads.JobSpec),
    KindInfo("apps", "v1", "Deployment", "deployments", spec=workloads.DeploymentSpec,
             short_names=("deploy",)),
    KindInfo("apps", "v1", "ReplicaSet", "replicasets", spec=workloads.ReplicaSetSpec,
             short_names=("rs",)),
    KindInfo("apps", "v1", "StatefulSet", "statefulsets", spec=workloads.StatefulSetSpec,
             short_names=("sts",)),
    KindInfo("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
]


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def plural_of(kind: str) -> str:
    low = kind.lower()
    if low.endswith("y") and low[-2:-1] not in "aeiou":
        return low[:-1] + "ies"
    if low.endswith(("s", "x", "ch", "sh")):
        return low + "es"
    return low + "s"


def kind_for(api_version: str, kind: str) -> KindInfo:
    """The known kind, or a generic one derived from the names (stored, not validated)."""
    group, version = split_api_version(api_version)
    for k in KINDS:
        if k.kind == kind and k.group == group:
            return k if k.version == version else KindInfo(
                group, version, kind, k.plural, k.namespaced, None, k.short_names)
    return KindInfo(group, version, kind, plural_of(kind))


def kind_for_plural(group: str, version: str, plural: str) -> KindInfo | None:
    for k in KINDS:
        if k.group == group and k.plural == plural:
            return k if k.version == version else KindInfo(
                group, version, k.kind, plural, k.namespaced, None, k.short_names)
    return None


def lookup(name: str) -> list[KindInfo]:
    """Kinds a user may mean by `name` on the command line: kind, plural, short name, or
    plural.group (as kubectl resolves `get tfjobs` or `get experiments.kubeflow.org`)."""
    low = name.lower()
    plural, _, group = low.partition(".")
    found = []
    for k in KINDS:
        names = {k.kind.lower(), k.plural, *k.short_names}
        if (low in names) or (group and plural == k.plural and group == k.group):
            found.append(k)
    return found
