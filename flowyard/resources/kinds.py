"""The kinds Flowyard knows: where each lives in the API (group, version, plural), whether it
is namespaced, and the model its spec must satisfy. Kinds not listed here are still stored."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

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
    categories: tuple[str, ...] = ()
    # Subresources served beside the object: "status", "scale", "log".
    subresources: tuple[str, ...] = ("status",)
    # A CustomResourceDefinition's additionalPrinterColumns: (name, type, jsonPath, priority).
    printer_columns: tuple[tuple[str, str, str, int], ...] = ()
    # A CustomResourceDefinition's openAPIV3Schema (validated on write, served in OpenAPI).
    schema: dict[str, Any] | None = field(default=None, hash=False, compare=False)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


_SCALED = ("status", "scale")
_NONE: tuple[str, ...] = ()

# Names, short names and categories are those of the upstream CRDs and of Kubernetes' own
# resources, so `kubectl get isvc`, `kubectl get all` and `kubectl get po` resolve as usual.
KINDS = [
    KindInfo("kubeflow.org", "v1", "TFJob", "tfjobs", spec=specs.TFJobSpec),
    KindInfo("kubeflow.org", "v1", "PyTorchJob", "pytorchjobs", spec=specs.PyTorchJobSpec,
             subresources=_SCALED),
    KindInfo("kubeflow.org", "v1", "MPIJob", "mpijobs", spec=specs.MPIJobSpec),
    KindInfo("kubeflow.org", "v1", "XGBoostJob", "xgboostjobs", spec=specs.XGBoostJobSpec),
    KindInfo("kubeflow.org", "v1", "PaddleJob", "paddlejobs", spec=specs.PaddleJobSpec,
             subresources=_SCALED),
    KindInfo("kubeflow.org", "v1", "JAXJob", "jaxjobs", spec=specs.JAXJobSpec,
             subresources=_SCALED),
    KindInfo("trainer.kubeflow.org", "v1alpha1", "TrainJob", "trainjobs",
             spec=specs.TrainJobSpec),
    KindInfo("trainer.kubeflow.org", "v1alpha1", "TrainingRuntime", "trainingruntimes",
             spec=specs.TrainingRuntimeSpec, subresources=_NONE),
    KindInfo("trainer.kubeflow.org", "v1alpha1", "ClusterTrainingRuntime",
             "clustertrainingruntimes", namespaced=False, spec=specs.TrainingRuntimeSpec,
             subresources=_NONE),
    KindInfo("kubeflow.org", "v1beta1", "Experiment", "experiments",
             spec=specs.KatibExperimentSpec, categories=("all", "kubeflow", "katib")),
    KindInfo("kubeflow.org", "v1beta1", "Trial", "trials",
             categories=("all", "kubeflow", "katib")),
    KindInfo("kubeflow.org", "v1beta1", "Suggestion", "suggestions",
             categories=("all", "kubeflow", "katib")),
    KindInfo("serving.kserve.io", "v1beta1", "InferenceService", "inferenceservices",
             spec=specs.InferenceServiceSpec, short_names=("isvc",)),
    KindInfo("serving.kserve.io", "v1alpha1", "ServingRuntime", "servingruntimes",
             subresources=_NONE),
    KindInfo("serving.kserve.io", "v1alpha1", "ClusterServingRuntime", "clusterservingruntimes",
             namespaced=False, subresources=_NONE),
    KindInfo("kubeflow.org", "v1", "Notebook", "notebooks", spec=specs.NotebookSpec),
    KindInfo("kubeflow.org", "v1", "Profile", "profiles", namespaced=False,
             spec=specs.ProfileSpec),
    KindInfo("kubeflow.org", "v1alpha1", "PodDefault", "poddefaults", subresources=_NONE),
    KindInfo("argoproj.io", "v1alpha1", "Workflow", "workflows", spec=specs.WorkflowSpec,
             short_names=("wf",), subresources=_NONE),
    KindInfo("argoproj.io", "v1alpha1", "CronWorkflow", "cronworkflows",
             short_names=("cwf", "cronwf"), subresources=_NONE),
    KindInfo("argoproj.io", "v1alpha1", "WorkflowTemplate", "workflowtemplates",
             short_names=("wftmpl",), subresources=_NONE),
    # Kubernetes' own kinds that the workload controllers reconcile (or that are stored).
    KindInfo("", "v1", "Pod", "pods", short_names=("po",), categories=("all",),
             subresources=("status", "log"), spec=workloads.PodSpec),
    KindInfo("", "v1", "Service", "services", short_names=("svc",), categories=("all",),
             spec=workloads.ServiceSpec),
    KindInfo("", "v1", "Endpoints", "endpoints", short_names=("ep",), subresources=_NONE),
    KindInfo("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims",
             spec=specs.PersistentVolumeClaimSpec, short_names=("pvc",)),
    KindInfo("", "v1", "ConfigMap", "configmaps", short_names=("cm",), subresources=_NONE),
    KindInfo("", "v1", "Secret", "secrets", subresources=_NONE),
    KindInfo("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",)),
    KindInfo("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",),
             subresources=_NONE),
    KindInfo("", "v1", "Event", "events", short_names=("ev",), subresources=_NONE),
    KindInfo("events.k8s.io", "v1", "Event", "events", short_names=("ev",), subresources=_NONE),
    KindInfo("apps", "v1", "Deployment", "deployments", short_names=("deploy",),
             spec=workloads.DeploymentSpec,
             categories=("all",), subresources=("status", "scale")),
    KindInfo("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=("all",),
             spec=workloads.ReplicaSetSpec,
             subresources=("status", "scale")),
    KindInfo("apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",),
             spec=workloads.StatefulSetSpec,
             categories=("all",), subresources=("status", "scale")),
    KindInfo("batch", "v1", "Job", "jobs", categories=("all",), spec=workloads.JobSpec),
    KindInfo("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), categories=("all",)),
    KindInfo("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", subresources=_NONE),
    KindInfo("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
             "customresourcedefinitions", namespaced=False, short_names=("crd", "crds")),
]
BUILTIN_GROUPS = ("", "apps", "batch", "discovery.k8s.io", "events.k8s.io",
                  "apiextensions.k8s.io")


def is_builtin(group: str) -> bool:
    """Kubernetes' own groups: their objects take strategic merge patches (custom kinds take
    JSON merge patches), as the API server decides."""
    return group in BUILTIN_GROUPS


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


def kind_for(api_version: str, kind: str, extra: Iterable[KindInfo] = ()) -> KindInfo:
    """The known kind (`extra`: kinds registered by CustomResourceDefinitions), or a generic
    one derived from the names (stored, not validated)."""
    group, version = split_api_version(api_version)
    for k in [*extra, *KINDS]:
        if k.kind == kind and k.group == group:
            return k if k.version == version else replace(k, version=version, spec=None)
    return KindInfo(group, version, kind, plural_of(kind))


def kind_for_plural(group: str, version: str, plural: str,
                    extra: Iterable[KindInfo] = ()) -> KindInfo | None:
    for k in [*extra, *KINDS]:
        if k.group == group and k.plural == plural:
            return k if k.version == version else replace(k, version=version, spec=None)
    return None


def lookup(name: str, extra: Iterable[KindInfo] = ()) -> list[KindInfo]:
    """Kinds a user may mean by `name` on the command line: kind, plural, short name, or
    plural.group (as kubectl resolves `get tfjobs` or `get experiments.kubeflow.org`)."""
    low = name.lower()
    plural, _, group = low.partition(".")
    found = []
    for k in [*extra, *KINDS]:
        names = {k.kind.lower(), k.plural, *k.short_names}
        if (low in names) or (group and plural == k.plural and group == k.group):
            found.append(k)
    if len(found) > 1 and len({(k.kind, k.plural) for k in found}) == 1:
        return found[:1]  # `event` is core v1's before events.k8s.io's, as in kubectl
    return found
