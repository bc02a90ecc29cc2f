"""The kinds this server serves: Flowyard's built-in kinds and those users registered with
CustomResourceDefinitions (read from the store, re-read when a CRD changes)."""

from __future__ import annotations

from flowyard.kube import crds
from flowyard.resources import kinds
from flowyard.services.context import Services
from flowyard.store.resources import ResourceStore
from flowyard.store.resources import to_object as render

_crd_cache: dict[int, tuple[int, list[kinds.KindInfo]]] = {}


def crd_kinds(svc: Services) -> list[kinds.KindInfo]:
    """The kinds users registered with CustomResourceDefinitions (re-read when one changes)."""
    rs = ResourceStore(svc.store)
    stamp = rs.kind_version(crds.GROUP, crds.PLURAL)
    cached = _crd_cache.get(id(svc.store))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    found: list[kinds.KindInfo] = []
    for row in rs.list(crds.GROUP, crds.PLURAL):
        found.extend(crds.kinds_of(render(row)))
    _crd_cache[id(svc.store)] = (stamp, found)
    return found


def served_kinds(svc: Services) -> list[kinds.KindInfo]:
    builtin = {(k.group, k.version, k.plural) for k in kinds.KINDS}
    return [*kinds.KINDS, *(k for k in crd_kinds(svc)
                            if (k.group, k.version, k.plural) not in builtin)]
