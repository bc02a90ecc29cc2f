"""Kubernetes-shaped resources: create, get, replace, patch (JSON, merge, strategic merge,
server-side apply), delete (finalizers, propagation), status, events and apply. Kinds with a
controller are reconciled by the controller manager; others are stored, with an event saying
nothing acts on them yet. Beside it: resource_lists.py (lists, selectors, paging),
watching.py, scale.py, namespaces.py, served_kinds.py, writes.py; kube/gc.py collects."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowyard.config import settings
from flowyard.controllers.registry import has_controller
from flowyard.executors.logs import iter_log
from flowyard.kube import crds, defaults, schemas, ssa, strategic, typecheck
from flowyard.kube import status as kstatus
from flowyard.resources import kinds, patch
from flowyard.resources.meta import check_name
from flowyard.resources.objects import ObjectError, validate
from flowyard.services import secret_objects
from flowyard.services.context import Services
from flowyard.services.errors import Aborted, AlreadyExists, ApiError, InvalidArgument, NotFound
from flowyard.services.kfp_json import ts
from flowyard.services.namespaces import BUILTIN_NAMESPACES, ensure_namespaces, namespace_exists
from flowyard.services.served_kinds import crd_kinds
from flowyard.services.writes import (
    WriteOptions,
    schema_of,
    strict_unknown,
    with_managed,
)
from flowyard.store import errors as store_errors
from flowyard.store.resources import Key, ResourceStore, now_ts
from flowyard.store.resources import to_object as render


class Invalid(InvalidArgument):
    """A rejected object; `details` names each bad field (Kubernetes' StatusCause)."""

    status = 422

    def __init__(self, kind: str, name: str, exc: ObjectError, group: str = "") -> None:
        super().__init__(f'{kind} "{name}" is invalid: {exc}',
                         [{"name": name, "kind": kind, "group": group},
                          *({"field": path, "message": msg, "reason": "FieldValueInvalid"}
                            for path, msg in exc.problems)])


class Unsupported(ApiError):
    status, code = 415, 3


class Gone(ApiError):
    status, code = 410, 9


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


def checked_ref(group: str, version: str, plural: str, namespace: str = "",
                name: str = "") -> Ref:
    """A Ref from a URL's parts, each checked as Kubernetes names them (these parts also name
    log files, so nothing like '..' gets through)."""
    if group and not _GROUP.match(group) and not kinds.is_builtin(group):
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


def info_for(ref: Ref, kind: str | None = None, svc: Services | None = None
             ) -> kinds.KindInfo:
    extra = crd_kinds(svc) if svc is not None else ()
    known = kinds.kind_for_plural(ref.group, ref.version, ref.plural, extra)
    if known is not None:
        return known
    return kinds.KindInfo(ref.group, ref.version, kind or ref.plural, ref.plural)


def _checked(ref: Ref, body: Any, svc: Services | None = None,
             opts: WriteOptions | None = None) -> tuple[kinds.KindInfo, dict[str, Any]]:
    if not isinstance(body, dict):
        raise InvalidArgument("the request body must be a JSON object")
    info = info_for(ref, body.get("kind"), svc)
    api_version = body.get("apiVersion")
    expected = info.api_version
    known = kinds.kind_for_plural(ref.group, ref.version, ref.plural,
                                  crd_kinds(svc) if svc is not None else ())
    if api_version not in (None, expected) or (body.get("kind") not in (None, info.kind) and (
            known is not None)):
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
    name = meta.get("name", "") if isinstance(meta, dict) else ""
    if kinds.is_builtin(info.group) and isinstance(meta, dict):
        body = defaults.apply(info.group, info.kind, copy.deepcopy(body))
    try:
        validate(body, info)
        if info.schema is not None:
            strict = (opts or WriteOptions()).validation == "Strict"
            body = crds.validate(body, info.schema, strict)
        if (info.group, info.kind) == (crds.GROUP, "CustomResourceDefinition"):
            crds.check(body)
        secret_objects.check_keys(info, body)
        builtin = schemas.definition_for(info) if kinds.is_builtin(info.group) else None
        if builtin is not None and (wrong := typecheck.problems(builtin, body)):
            raise ObjectError(wrong)
    except ObjectError as exc:
        raise Invalid(body["kind"], str(name), exc, info.group) from None
    except crds.UnknownFields as exc:
        raise InvalidArgument(str(exc), [{"field": f, "message": "field not declared in schema",
                                          "reason": "FieldValueInvalid"} for f in exc.fields]
                              ) from None
    strict_unknown(info, body, opts or WriteOptions())
    return info, body


def _spec_side(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the object's owner writes (everything but status and server-set metadata)."""
    body = copy.deepcopy(body)
    body.pop("status", None)
    meta = body.setdefault("metadata", {})
    labels = meta.pop("labels", None) or {}
    for key in ("resourceVersion", "uid", "generation", "creationTimestamp", "namespace",
                "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"):
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


# Kinds the API server itself looks after (kube/gc.py, kube/crds.py) or that only hold data.
_NEEDS_NO_CONTROLLER = {("", "Namespace"), ("", "ServiceAccount"), ("", "Endpoints"),
                        ("", "Event"), ("events.k8s.io", "Event"),
                        ("discovery.k8s.io", "EndpointSlice"),
                        ("apiextensions.k8s.io", "CustomResourceDefinition")}


def _no_controller_event(svc: Services, info: kinds.KindInfo, ref: Ref, name: str) -> None:
    if (info.group, info.kind) in _NEEDS_NO_CONTROLLER:
        return
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
        out, values = secret_objects.take_values(body)
    except ObjectError as exc:
        raise Invalid(info.kind, str(body["metadata"].get("name", "")), exc) from None
    return out, values  # take_values also redacts the values in the last-applied copy


def create(svc: Services, ref: Ref, body: Any, opts: WriteOptions | None = None
           ) -> dict[str, Any]:
    opts = opts or WriteOptions()
    if isinstance(body, dict) and isinstance(body.get("metadata"), dict) and not body[
            "metadata"].get("name") and body["metadata"].get("generateName"):
        import secrets as _secrets

        body = copy.deepcopy(body)
        body["metadata"]["name"] = (str(body["metadata"]["generateName"])
                                    + _secrets.token_hex(3)[:5])
    info, body = _checked(ref, body, svc, opts)
    namespace_exists(svc, info, ref.namespace)
    body, values = _secret_values(info, body)
    body = with_managed(info, None, body, opts)
    name = body["metadata"]["name"]
    spec_side, labels = _spec_side(body)
    if opts.dry_run:
        return {**body, "metadata": {**body["metadata"], "namespace": ref.namespace}}
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


def _not_found(ref: Ref, info: kinds.KindInfo | None = None) -> NotFound:
    what = f"{ref.plural}.{ref.group}" if ref.group else ref.plural
    return NotFound(f'{what} "{ref.name}" not found', [{"name": ref.name, "kind": ref.plural,
                                                      "group": ref.group}])


def get(svc: Services, ref: Ref) -> dict[str, Any]:
    try:
        return render(ResourceStore(svc.store).get(ref.key()))
    except store_errors.NotFound:
        if ref.plural == "namespaces" and not ref.group and ref.name in BUILTIN_NAMESPACES:
            ensure_namespaces(svc)
            return render(ResourceStore(svc.store).get(ref.key()))
        raise _not_found(ref) from None


def _write(svc: Services, ref: Ref, expected: int | None, **kw: Any) -> dict[str, Any]:
    try:
        return render(ResourceStore(svc.store).write(ref.key(), expected, **kw))
    except store_errors.NotFound:
        raise _not_found(ref) from None
    except store_errors.Conflict as exc:
        raise Aborted(f'Operation cannot be fulfilled on {ref.plural} "{ref.name}": '
                      f"{exc}") from None


def replace(svc: Services, ref: Ref, body: Any, opts: WriteOptions | None = None
            ) -> dict[str, Any]:
    opts = opts or WriteOptions()
    info, body = _checked(ref, body, svc, opts)
    current = get(svc, ref)
    body, values = _secret_values(info, body)
    if values is None and secret_objects.is_secret(info):
        # No data given: the values stay, and so do the annotations that describe them.
        body = secret_objects.keep_annotations(body, get(svc, ref))
    # After the values are taken out: a Secret's managed fields never change by its values.
    body = with_managed(info, current, body, opts)
    spec_side, labels = _spec_side(body)
    # A kind without a status subresource takes its status with the object.
    status = None if "status" in info.subresources else body.get("status")
    if status is not None and not isinstance(status, dict):
        raise InvalidArgument("status: expected an object")
    if opts.dry_run:
        return {**current, **body}
    # The object first (a conflict or a missing object then changes nothing); it carries the
    # values' digest, so changed values are a new resourceVersion. A crash between the two
    # writes is mended by the next apply: the values are compared with the stored ones.
    out = _write(svc, ref, _expected_rv(body), body=spec_side, labels=labels,
                 version=ref.version, status=status)
    if values is not None:
        secret_objects.store_values(svc, ref.namespace, ref.name, values)
    return out


def replace_status(svc: Services, ref: Ref, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("status", {}), dict):
        raise InvalidArgument("status: expected an object with a 'status' mapping")
    return _write(svc, ref, _expected_rv(body), status=body.get("status") or {})


def _patched(info: kinds.KindInfo, current: dict[str, Any], body: Any, content_type: str
             ) -> dict[str, Any]:
    try:
        if "json-patch" in content_type:
            return patch.json_patch(current, body)
        if not isinstance(body, dict):
            raise ValueError("a merge patch must be a JSON object")
        if "strategic-merge-patch" in content_type:
            if not kinds.is_builtin(info.group):
                raise Unsupported(f"the body of the request was in an unknown format - "
                                  f"accepted media types include: application/json-patch+json,"
                                  f" application/merge-patch+json, application/apply-patch+yaml"
                                  f" (strategic merge patch is not supported for {info.kind}, "
                                  "a custom resource)")
            schema, defs = schema_of(info)
            return strategic.apply(current, body, schema, defs)
        return patch.merge_patch(current, body)
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
        raise InvalidArgument(f"patch: {exc}") from None


def patch_(svc: Services, ref: Ref, body: Any, content_type: str = "",
           opts: WriteOptions | None = None) -> dict[str, Any]:
    opts = opts or WriteOptions()
    info = info_for(ref, svc=svc)
    if "apply-patch" in content_type:
        return server_side_apply(svc, ref, info, body, opts)[0]
    current = get(svc, ref)
    if secret_objects.is_secret(info):
        # Patch what the object holds, values included, so keys not patched are kept.
        current = secret_objects.with_values(svc, ref.namespace, ref.name, current)
    new = _patched(info, current, body, content_type)
    if not isinstance(new, dict):
        raise InvalidArgument("patch: the result is not an object")
    meta = new.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise InvalidArgument("metadata: expected an object")
    # A patch that names no resourceVersion applies to the version it was computed on.
    sent = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
    meta["resourceVersion"] = sent or current["metadata"]["resourceVersion"]
    return replace(svc, ref, new, opts)


def server_side_apply(svc: Services, ref: Ref, info: kinds.KindInfo, body: Any,
                      opts: WriteOptions) -> tuple[dict[str, Any], bool]:
    """The object after `opts.manager` applied `body`, and whether it was created."""
    if not isinstance(body, dict):
        raise InvalidArgument("an apply patch must be a YAML or JSON object")
    if not opts.manager:
        raise InvalidArgument("fieldManager: Required value: is required for apply patch")
    schema, defs = schema_of(info)
    try:
        live: dict[str, Any] | None = get(svc, ref)
    except NotFound:
        live = None
    applied = copy.deepcopy(body)
    applied.setdefault("metadata", {}).setdefault("name", ref.name)
    try:
        result = ssa.apply(live, applied, opts.manager, opts.force, schema, defs, now_ts(),
                           info.api_version)
    except ssa.ApplyConflict as exc:
        raise ApplyConflicted(str(exc), [
            {"type": "FieldManagerConflict", "message": f'conflict with "{m}"', "field": p}
            for m, p in exc.conflicts]) from None
    keep = WriteOptions(opts.manager, opts.validation, opts.force, opts.dry_run,
                        {"keep_managed": True})
    if live is None:
        return create(svc, ref, result, keep), True
    result["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    return replace(svc, ref, result, keep), False


class ApplyConflicted(Aborted):
    pass


def patch_status(svc: Services, ref: Ref, body: Any, content_type: str = "") -> dict[str, Any]:
    current = get(svc, ref)
    info = info_for(ref, svc=svc)
    if isinstance(body, dict):
        body = {"status": body.get("status", {})}  # /status touches nothing else
    new = _patched(info, {"status": current.get("status", {})}, body, content_type)
    status = new.get("status", {}) if isinstance(new, dict) else None
    if not isinstance(status, dict):
        raise InvalidArgument("patch: status must stay an object")
    return _write(svc, ref, int(current["metadata"]["resourceVersion"]), status=status)


PROPAGATION = ("Background", "Foreground", "Orphan")


def delete(svc: Services, ref: Ref, propagation: str | None = None,
           options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Delete as Kubernetes does: with finalizers the object stays (deletionTimestamp set)
    until they are removed; Foreground keeps the owner until its blocking dependents are gone
    (foregroundDeletion finalizer); Orphan frees the dependents first; Background (the
    default) leaves them to the garbage collector."""
    options = options or {}
    propagation = propagation or options.get("propagationPolicy")
    if options.get("orphanDependents") is True and not propagation:
        propagation = "Orphan"
    if propagation not in (None, *PROPAGATION):
        raise InvalidArgument(f"propagationPolicy: Unsupported value: {propagation!r}: "
                              f"supported values: {', '.join(PROPAGATION)}")
    uid = ((options.get("preconditions") or {}).get("uid")) or None
    rs = ResourceStore(svc.store)
    add: tuple[str, ...] = ()
    if propagation == "Foreground":
        add = ("foregroundDeletion",)
    elif propagation == "Orphan":
        add = ("orphan",)
    if ref.plural == "namespaces" and not ref.group:
        add = ("kubernetes",)  # the namespace stays Terminating until kube/gc.py empties it
    try:
        row = rs.delete(ref.key(), add, uid)
    except store_errors.NotFound:
        raise _not_found(ref) from None
    except store_errors.Conflict as exc:
        raise Aborted(str(exc)) from None
    if not row.deleted:
        return render(row)  # kept while its finalizers run, as the API server answers
    if row.group == "" and row.kind == "Secret":
        secret_objects.forget(svc, row.namespace, row.name)
    return kstatus.success(row.name, row.group, row.plural, row.uid)


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
    body = {k: v for k, v in obj.items() if k != "status"}
    body["metadata"] = {k: v for k, v in meta.items() if k != "resourceVersion"}
    # Through replace, so a Secret's values are compared with the stored ones (a change is a
    # new resourceVersion) and never land in the resources table.
    out = replace(svc, ref, body)
    same = out["metadata"]["resourceVersion"] == str(current.resource_version)
    return ("unchanged" if same else "configured"), out


def log_path(group: str, plural: str, namespace: str, name: str) -> Path:
    """Where a controller writes the output of what it runs for an object."""
    return settings().logs_dir / "resources" / (group or "core") / plural / (
        namespace or "_cluster") / f"{name}.log"


def logs(svc: Services, ref: Ref) -> Iterator[bytes]:
    """The object's log in chunks (streamed: a log can be far larger than memory)."""
    row = get(svc, ref)
    path = log_path(ref.group, ref.plural, ref.namespace, ref.name)
    if not path.exists():
        kind = row["kind"]
        why = ("its controller has written none yet" if has_controller(ref.group, kind)
               else f"no controller handles {kind} yet, so nothing runs for it")
        raise NotFound(f"{kind} {ref.name!r} has no logs: {why}")
    return iter_log(path)


def events(svc: Services, kind: str, namespace: str, name: str) -> list[dict[str, Any]]:
    return [{"type": e.type, "reason": e.reason, "message": e.message,
             "eventTime": ts(e.created_at)}
            for e in ResourceStore(svc.store).events(kind, namespace, name)]


def error_status(exc: ApiError) -> dict[str, Any]:
    """A Kubernetes Status object for a failed resource request."""
    reason = "Conflict" if isinstance(exc, Aborted) else None
    details: dict[str, Any] = {}
    causes = [d for d in exc.details if "field" in d or "message" in d]
    named = [d for d in exc.details if "name" in d and "field" not in d]
    if named:
        details.update(named[0])
    if causes:
        details["causes"] = causes
    return kstatus.status(exc.status, exc.message, reason, details or None)
