"""Kubeflow-shaped resources: create, get, list (label selectors), replace, patch, delete,
status, watch, events and apply. Kinds with a controller are reconciled by the controller
manager; others are stored, with an event saying nothing acts on them yet."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowyard.config import settings
from flowyard.controllers.registry import has_controller
from flowyard.resources import kinds, patch, selectors
from flowyard.resources.meta import check_name
from flowyard.resources.objects import ObjectError, validate
from flowyard.services import secret_objects
from flowyard.services.context import Services
from flowyard.services.errors import Aborted, AlreadyExists, ApiError, InvalidArgument, NotFound
from flowyard.services.kfp_json import ts
from flowyard.store import errors as store_errors
from flowyard.store.resources import Key, ResourceStore
from flowyard.store.resources import to_object as render

WATCH_POLL_S = 0.2


class Invalid(InvalidArgument):
    """A rejected object; `details` names each bad field (Kubernetes' StatusCause)."""

    status = 422

    def __init__(self, kind: str, name: str, exc: ObjectError) -> None:
        super().__init__(f"{kind} {name!r} is invalid: {exc}",
                         [{"field": path, "message": msg} for path, msg in exc.problems])


@dataclass(frozen=True)
class Ref:
    group: str
    version: str
    plural: str
    namespace: str
    name: str = ""

    def key(self, name: str | None = None) -> Key:
        return Key(self.group, self.plural, self.namespace, name or self.name)


_GROUP = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
_WORD = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# Kubernetes' own groups without a dot (apps, batch): known kinds, never KFP's /apis/v2beta1.
_BUILTIN_GROUPS = frozenset(k.group for k in kinds.KINDS if k.group and "." not in k.group)


def checked_ref(group: str, version: str, plural: str, namespace: str = "",
                name: str = "") -> Ref:
    """A Ref from a URL's parts, each checked as Kubernetes names them (these parts also name
    log files, so nothing like '..' gets through)."""
    if group and not _GROUP.match(group) and group not in _BUILTIN_GROUPS:
        raise NotFound(f"no API group {group!r}")
    if not _WORD.match(version) or not _WORD.match(plural):
        raise NotFound(f"no resource {plural!r} in {group or 'core'}/{version}")
    if namespace and not _WORD.match(namespace):
        raise InvalidArgument(f"namespace {namespace!r}: a DNS label (lower-case letters, "
                              "digits, '-')")
    if name:
        try:
            check_name(name)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
    return Ref(group, version, plural, namespace, name)


def info_for(ref: Ref, kind: str | None = None) -> kinds.KindInfo:
    known = kinds.kind_for_plural(ref.group, ref.version, ref.plural)
    if known is not None:
        return known
    return kinds.KindInfo(ref.group, ref.version, kind or ref.plural, ref.plural)


def _checked(ref: Ref, body: Any) -> tuple[kinds.KindInfo, dict[str, Any]]:
    if not isinstance(body, dict):
        raise InvalidArgument("the request body must be a JSON object")
    info = info_for(ref, body.get("kind"))
    api_version = body.get("apiVersion")
    expected = info.api_version
    if api_version not in (None, expected) or (body.get("kind") not in (None, info.kind) and (
            kinds.kind_for_plural(ref.group, ref.version, ref.plural) is not None)):
        raise InvalidArgument(f"the object is {api_version} {body.get('kind')} but the URL is "
                              f"for {expected} {info.kind} ({ref.plural})")
    body = {**body, "apiVersion": expected, "kind": body.get("kind") or info.kind}
    meta = body.get("metadata")
    if isinstance(meta, dict):
        if ref.name and meta.get("name") not in (None, ref.name):
            raise InvalidArgument(f"metadata.name {meta.get('name')!r} does not match the URL's "
                                  f"{ref.name!r}")
        if ref.name and "name" not in meta:
            meta = {**meta, "name": ref.name}
        if meta.get("namespace") not in (None, "", ref.namespace):
            raise InvalidArgument(f"metadata.namespace {meta.get('namespace')!r} does not match "
                                  f"the URL's namespace {ref.namespace!r}")
        body["metadata"] = meta
    try:
        validate(body, info)
    except ObjectError as exc:
        name = meta.get("name", "") if isinstance(meta, dict) else ""
        raise Invalid(body["kind"], str(name), exc) from None
    return info, body


def _spec_side(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the object's owner writes (everything but status and server-set metadata)."""
    body = copy.deepcopy(body)
    body.pop("status", None)
    meta = body.setdefault("metadata", {})
    labels = meta.pop("labels", None) or {}
    for key in ("resourceVersion", "uid", "generation", "creationTimestamp", "namespace"):
        meta.pop(key, None)
    return body, labels


def _expected_rv(body: dict[str, Any]) -> int | None:
    rv = (body.get("metadata") or {}).get("resourceVersion")
    if rv in (None, ""):
        return None
    try:
        return int(rv)
    except (TypeError, ValueError):
        raise InvalidArgument(f"metadata.resourceVersion {rv!r}: not a version this server "
                              "gave out") from None


def _no_controller_event(svc: Services, info: kinds.KindInfo, ref: Ref, name: str) -> None:
    if not has_controller(info.group, info.kind):
        ResourceStore(svc.store).add_event(
            info.kind, ref.namespace, name, "NoController",
            f"no controller handles {info.kind} ({info.api_version}) in this Flowyard yet: the "
            "object is stored and can be read, watched and deleted, but nothing acts on it",
            type="Warning")


def _secret_values(info: kinds.KindInfo, body: dict[str, Any]) -> tuple[
        dict[str, Any], dict[str, str] | None]:
    if not secret_objects.is_secret(info):
        return body, None
    try:
        return secret_objects.take_values(body)
    except ObjectError as exc:
        raise Invalid(info.kind, str(body["metadata"].get("name", "")), exc) from None


def create(svc: Services, ref: Ref, body: Any) -> dict[str, Any]:
    info, body = _checked(ref, body)
    body, values = _secret_values(info, body)
    name = body["metadata"]["name"]
    spec_side, labels = _spec_side(body)
    try:
        row = ResourceStore(svc.store).create(
            ref.key(name), version=ref.version, kind=info.kind, labels=labels, body=spec_side,
            status=body.get("status") or {})
    except store_errors.Conflict as exc:
        raise AlreadyExists(str(exc)) from None
    if values is not None:
        secret_objects.store_values(svc, ref.namespace, name, values)
    elif not secret_objects.is_secret(info):
        _no_controller_event(svc, info, ref, name)
    return render(row)


def get(svc: Services, ref: Ref) -> dict[str, Any]:
    try:
        return render(ResourceStore(svc.store).get(ref.key()))
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None


def list_(svc: Services, ref: Ref, label_selector: str | None = None,
          all_namespaces: bool = False) -> dict[str, Any]:
    try:
        match = selectors.parse(label_selector)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    rs = ResourceStore(svc.store)
    version = rs.current_version()
    rows = rs.list(ref.group, ref.plural, None if all_namespaces else ref.namespace)
    info = info_for(ref)
    return {"apiVersion": info.api_version, "kind": f"{info.kind}List",
            "metadata": {"resourceVersion": str(version)},
            "items": [render(r) for r in rows if match(r.labels or {})]}


def _write(svc: Services, ref: Ref, expected: int | None, **kw: Any) -> dict[str, Any]:
    try:
        return render(ResourceStore(svc.store).write(ref.key(), expected, **kw))
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None
    except store_errors.Conflict as exc:
        raise Aborted(str(exc)) from None


def replace(svc: Services, ref: Ref, body: Any) -> dict[str, Any]:
    info, body = _checked(ref, body)
    body, values = _secret_values(info, body)
    spec_side, labels = _spec_side(body)
    out = _write(svc, ref, _expected_rv(body), body=spec_side, labels=labels,
                 version=ref.version)
    if values is not None:
        secret_objects.store_values(svc, ref.namespace, ref.name, values)
    return out


def replace_status(svc: Services, ref: Ref, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("status", {}), dict):
        raise InvalidArgument("status: expected an object with a 'status' mapping")
    return _write(svc, ref, _expected_rv(body), status=body.get("status") or {})


def _patched(current: dict[str, Any], body: Any, content_type: str) -> dict[str, Any]:
    try:
        if "json-patch" in content_type:
            return patch.json_patch(current, body)
        if not isinstance(body, dict):
            raise ValueError("a merge patch must be a JSON object")
        return patch.merge_patch(current, body)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise InvalidArgument(f"patch: {exc}") from None


def patch_(svc: Services, ref: Ref, body: Any, content_type: str = "") -> dict[str, Any]:
    current = get(svc, ref)
    if secret_objects.is_secret(info_for(ref)):
        # Patch what the object holds, values included, so keys not patched are kept.
        current = secret_objects.with_values(svc, ref.namespace, ref.name, current)
    new = _patched(current, body, content_type)
    if not isinstance(new, dict):
        raise InvalidArgument("patch: the result is not an object")
    new.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
    return replace(svc, ref, new)


def patch_status(svc: Services, ref: Ref, body: Any, content_type: str = "") -> dict[str, Any]:
    current = get(svc, ref)
    new = _patched({"status": current.get("status", {})}, body, content_type)
    status = new.get("status", {}) if isinstance(new, dict) else None
    if not isinstance(status, dict):
        raise InvalidArgument("patch: status must stay an object")
    return _write(svc, ref, int(current["metadata"]["resourceVersion"]), status=status)


def delete(svc: Services, ref: Ref) -> dict[str, Any]:
    try:
        row = ResourceStore(svc.store).delete(ref.key())
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None
    if row.group == "" and row.kind == "Secret":
        secret_objects.forget(svc, row.namespace, row.name)
    return {"apiVersion": "v1", "kind": "Status", "status": "Success",
            "details": {"name": row.name, "group": row.group, "kind": row.plural,
                        "uid": row.uid}}


def apply(svc: Services, obj: Any, namespace: str = "default") -> tuple[str, dict[str, Any]]:
    """Create the object, or replace its spec side if it exists (what `kubectl apply` does
    for one writer). Returns ("created" | "configured" | "unchanged", object)."""
    if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind"):
        raise InvalidArgument("each document needs apiVersion and kind")
    info = kinds.kind_for(str(obj["apiVersion"]), str(obj["kind"]))
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    ns = (meta.get("namespace") or namespace) if info.namespaced else ""
    ref = Ref(info.group, info.version, info.plural, ns, str(meta.get("name") or ""))
    if not ref.name:
        raise Invalid(info.kind, "", ObjectError([("metadata.name", "Field required")]))
    try:
        current = ResourceStore(svc.store).get(ref.key())
    except store_errors.NotFound:
        return "created", create(svc, ref, obj)
    _, checked = _checked(ref, obj)
    spec_side, labels = _spec_side(checked)
    if spec_side == current.body and labels == (current.labels or {}):
        return "unchanged", render(current)
    return "configured", _write(svc, ref, None, body=spec_side, labels=labels,
                                version=ref.version)


def log_path(group: str, plural: str, namespace: str, name: str) -> Path:
    """Where a controller writes the output of what it runs for an object."""
    return settings().logs_dir / "resources" / (group or "core") / plural / (
        namespace or "_cluster") / f"{name}.log"


def logs(svc: Services, ref: Ref) -> str:
    row = get(svc, ref)
    path = log_path(ref.group, ref.plural, ref.namespace, ref.name)
    if not path.exists():
        kind = row["kind"]
        why = ("its controller has written none yet" if has_controller(ref.group, kind)
               else f"no controller handles {kind} yet, so nothing runs for it")
        raise NotFound(f"{kind} {ref.name!r} has no logs: {why}")
    return path.read_text(errors="replace")


def events(svc: Services, kind: str, namespace: str, name: str) -> list[dict[str, Any]]:
    return [{"type": e.type, "reason": e.reason, "message": e.message,
             "eventTime": ts(e.created_at)}
            for e in ResourceStore(svc.store).events(kind, namespace, name)]


def watch(svc: Services, ref: Ref, resource_version: str | None = None,
          label_selector: str | None = None, timeout_s: float = 300.0,
          all_namespaces: bool = False) -> Iterator[dict[str, Any]]:
    """Kubernetes watch events ({type, object}) for every write after `resource_version`;
    without one, the current objects first as ADDED. Ends after `timeout_s`, as a watch does.
    A bad request fails here, before the first event is asked for."""
    try:
        match = selectors.parse(label_selector)
        since = int(resource_version) if resource_version not in (None, "", "0") else None
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    rs = ResourceStore(svc.store)
    if since is not None and since + 1 < rs.oldest_change():
        raise Gone(f"resourceVersion {since} is too old: list again and watch from the "
                   "list's resourceVersion")
    return _events(rs, ref, None if all_namespaces else ref.namespace, since, match, timeout_s)


def _events(rs: ResourceStore, ref: Ref, ns: str | None, since: int | None,
            match: selectors.Matcher, timeout_s: float) -> Iterator[dict[str, Any]]:
    if since is None:
        since = rs.current_version()
        for row in rs.list(ref.group, ref.plural, ns):
            if match(row.labels or {}):
                yield {"type": "ADDED", "object": render(row)}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for change in rs.history(ref.group, ref.plural, ns, since):
            since = change.resource_version
            if match(change.labels or {}):
                yield {"type": change.type, "object": change.object}
        time.sleep(WATCH_POLL_S)


class Gone(ApiError):
    status, code = 410, 9


def error_status(exc: ApiError) -> dict[str, Any]:
    """A Kubernetes Status object for a failed resource request."""
    reasons = {400: "BadRequest", 404: "NotFound", 409: "AlreadyExists", 410: "Expired", 413:
               "RequestEntityTooLarge", 422: "Invalid"}
    reason = "Conflict" if isinstance(exc, Aborted) else reasons.get(exc.status, "InternalError")
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "Status", "metadata": {},
                           "status": "Failure", "message": exc.message, "reason": reason,
                           "code": exc.status}
    if exc.details:
        out["details"] = {"causes": exc.details}
    return out
