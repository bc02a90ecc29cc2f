"""Kubernetes Secret objects applied through the resources API: their values go to the
encrypted secret store (where pipelines' use_secret_as_env/volume find them) and never into
the resources table, its change log or a response. The stored object keeps the key names."""

from __future__ import annotations

import base64
import binascii
import copy
from typing import Any

from flowyard.resources.kinds import KindInfo
from flowyard.resources.objects import ObjectError
from flowyard.services.context import Services
from flowyard.store.secrets import SecretStore

KEYS_ANNOTATION = "flowyard.io/secret-keys"


def is_secret(info: KindInfo) -> bool:
    return info.group == "" and info.kind == "Secret"


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
            problems.append((f"data.{key}", "not base64 of UTF-8 text"))
    for key, value in string_data.items():
        values[key] = str(value)  # stringData wins over data, as in Kubernetes
    if problems:
        raise ObjectError(problems)
    out = copy.deepcopy(body)
    out.pop("data", None)
    out.pop("stringData", None)
    annotations = out.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[KEYS_ANNOTATION] = ",".join(sorted(values))
    return out, values


def store_values(svc: Services, namespace: str, name: str, values: dict[str, str]) -> None:
    SecretStore(svc.store).put(name, values, "Secret", namespace)


def with_values(svc: Services, namespace: str, name: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The object with its values as `data` (base64): what a patch is applied to."""
    values = SecretStore(svc.store).get(name, "Secret", namespace) or {}
    return {**obj, "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}


def forget(svc: Services, namespace: str, name: str) -> None:
    SecretStore(svc.store).delete(name, "Secret", namespace)
