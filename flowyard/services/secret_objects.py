"""Kubernetes Secret objects applied through the resources API: their values go to the
encrypted secret store (where pipelines' use_secret_as_env/volume find them) and never into
the resources table, its change log or a response. The stored object keeps the key names,
and a keyed digest of the values, so a change of values is a change of the object (a new
resourceVersion and a MODIFIED watch event, as in Kubernetes)."""

from __future__ import annotations

import base64
import binascii
import copy
import json
from typing import Any

from flowyard.resources.kinds import KindInfo
from flowyard.resources.objects import ObjectError
from flowyard.services.context import Services
from flowyard.store.secrets import SecretStore, key_problems

KEYS_ANNOTATION = "flowyard.io/secret-keys"
DIGEST_ANNOTATION = "flowyard.io/secret-digest"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
REDACTED = "<redacted by flowyard>"
MAX_SIZE = 1024 * 1024  # Kubernetes' limit on a Secret's or ConfigMap's data


def is_secret(info: KindInfo) -> bool:
    return info.group == "" and info.kind == "Secret"


def _is_config_map(info: KindInfo) -> bool:
    return info.group == "" and info.kind == "ConfigMap"


def check_keys(info: KindInfo, body: dict[str, Any]) -> None:
    """Refuse keys that are not Kubernetes config keys (they become file names when mounted)
    and data over 1 MiB, naming each field as Kubernetes does (`data[../x]`). A Secret's
    stringData is merged into data before validation, so its keys are named data[...] too."""
    if is_secret(info):
        fields = (("data", "data"), ("stringData", "data"))
    elif _is_config_map(info):
        fields = (("data", "data"), ("binaryData", "binaryData"))
    else:
        return
    problems: list[tuple[str, str]] = []
    size = 0
    seen: dict[str, str] = {}
    for field, shown in fields:
        mapping = body.get(field)
        if mapping is None:
            continue
        if not isinstance(mapping, dict):
            problems.append((field, "expected a mapping of key to value"))
            continue
        for key, value in mapping.items():
            path = f"{shown}[{key}]"
            bad = key_problems(str(key))
            if bad:
                problems.append((path, f"Invalid value: {json.dumps(key)}: {'; '.join(bad)}"))
            elif _is_config_map(info) and seen.get(key, field) != field:
                problems.append((path, f"Invalid value: {json.dumps(key)}: duplicate of key "
                                       f"present in {seen[key]}"))
            seen.setdefault(key, field)
            size += len(str(key)) + len(str(value))
    if size > MAX_SIZE:
        problems.append(("data", f"Too long: must have at most {MAX_SIZE} bytes"))
    if problems:
        raise ObjectError(problems)


def take_values(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str] | None]:
    """The object without `data`/`stringData`, and the decoded values (None if it had none,
    which leaves the stored values as they are)."""
    if "data" not in body and "stringData" not in body:
        return body, None
    values: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    data, string_data = body.get("data") or {}, body.get("stringData") or {}
    if not isinstance(data, dict) or not isinstance(string_data, dict):
        raise ObjectError([("data", "expected a mapping of key to value")])
    for key, value in data.items():
        try:
            values[key] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            problems.append((f"data[{key}]", "not base64 of UTF-8 text"))
    for key, value in string_data.items():
        values[key] = str(value)  # stringData wins over data, as in Kubernetes
    if problems:
        raise ObjectError(problems)
    out = copy.deepcopy(body)
    out.pop("data", None)
    out.pop("stringData", None)
    annotations = _annotations(out)
    annotations[KEYS_ANNOTATION] = ",".join(sorted(values))
    annotations[DIGEST_ANNOTATION] = SecretStore.digest(values)
    if LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = _redacted(annotations[LAST_APPLIED])
    return out, values


def _redacted(last_applied: Any) -> Any:
    """kubectl's client-side apply copies the whole object, values included, into an
    annotation. The values are replaced: kubectl then always sends the file's values (they
    differ from the placeholder), which the store compares with what it holds, and a key
    removed from the file is still seen as applied before, so kubectl deletes it."""
    try:
        doc = json.loads(str(last_applied))
    except ValueError:
        return REDACTED
    if not isinstance(doc, dict):
        return REDACTED
    for field in ("data", "stringData"):
        if isinstance(doc.get(field), dict):
            doc[field] = {k: REDACTED for k in doc[field]}
    return json.dumps(doc, sort_keys=True)


def store_values(svc: Services, namespace: str, name: str, values: dict[str, str]) -> bool:
    """Keep `values` as the Secret's; False if they are what the store already holds (then
    nothing is written)."""
    store = SecretStore(svc.store)
    if store.get(name, "Secret", namespace) == values:
        return False
    store.put(name, values, "Secret", namespace)
    return True


def with_values(svc: Services, namespace: str, name: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The object with its values as `data` (base64): what a patch is applied to."""
    values = SecretStore(svc.store).get(name, "Secret", namespace) or {}
    return {**obj, "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}


def forget(svc: Services, namespace: str, name: str) -> None:
    SecretStore(svc.store).delete(name, "Secret", namespace)


def keep_annotations(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """`body` with the current object's key and digest annotations (server-owned)."""
    held = (current.get("metadata") or {}).get("annotations") or {}
    out = copy.deepcopy(body)
    annotations = _annotations(out)
    for key in (KEYS_ANNOTATION, DIGEST_ANNOTATION):
        if key in held:
            annotations[key] = held[key]
        else:
            annotations.pop(key, None)
    return out


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta.get("annotations"), dict):
        meta["annotations"] = {}
    return meta["annotations"]  # type: ignore[no-any-return]
