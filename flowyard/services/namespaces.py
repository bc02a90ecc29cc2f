"""Namespaces as objects: the ones every cluster has, and the rule that nothing is created in
a namespace that does not exist or is being deleted (kube/gc.py empties a deleted one)."""

from __future__ import annotations

import contextlib

from flowyard.resources import kinds
from flowyard.services.context import Services
from flowyard.services.errors import ApiError, NotFound
from flowyard.store import errors as store_errors
from flowyard.store.resources import Key, ResourceStore

BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def namespace_exists(svc: Services, info: kinds.KindInfo, namespace: str) -> None:
    """Creating in a namespace that does not exist is NotFound, as in Kubernetes; one that is
    being deleted takes nothing new."""
    if not info.namespaced or not namespace:
        return
    try:
        row = ResourceStore(svc.store).get(Key("", "namespaces", "", namespace))
    except store_errors.NotFound:
        if namespace in BUILTIN_NAMESPACES:
            ensure_namespaces(svc)
            return
        raise NotFound(f'namespaces "{namespace}" not found') from None
    if (row.body.get("metadata") or {}).get("deletionTimestamp"):
        raise Forbidden(f'{info.kind} "{(info.plural)}" is forbidden: unable to create new '
                        f"content in namespace {namespace} because it is being terminated")


class Forbidden(ApiError):
    status, code = 403, 7


def ensure_namespaces(svc: Services) -> None:
    """default, kube-system, kube-public and kube-node-lease exist, as in every cluster."""
    rs = ResourceStore(svc.store)
    for name in BUILTIN_NAMESPACES:
        try:
            rs.get(Key("", "namespaces", "", name))
        except store_errors.NotFound:
            with contextlib.suppress(store_errors.Conflict):  # another process made it
                rs.create(Key("", "namespaces", "", name), version="v1", kind="Namespace",
                          labels={"kubernetes.io/metadata.name": name},
                          body={"metadata": {"name": name},
                                "spec": {"finalizers": ["kubernetes"]}},
                          status={"phase": "Active"})
