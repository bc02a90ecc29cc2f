"""ObjectMeta and the object envelope, with Kubernetes' name and label rules."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# RFC 1123 subdomain, as Kubernetes checks object names: dot-separated labels, each starting
# and ending with a letter or digit (so no "..", "a.-b" or "/" anywhere).
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def check_name(value: str, what: str = "name") -> str:
    if not value or len(value) > 253 or not _SUBDOMAIN.match(value):
        raise ValueError(f"{what} {value!r}: lower-case letters, digits, '-' and '.', starting "
                         "and ending with a letter or digit, at most 253 characters")
    return value


def check_label_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if prefix:
        check_name(prefix, "label prefix")
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        raise ValueError(f"label key {key!r}: at most 63 letters, digits, '-', '_' or '.', "
                         "starting and ending with a letter or digit (optionally prefix/)")


class Loose(BaseModel):
    """A model that keeps the fields it does not know."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ObjectMeta(Loose):
    name: str
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    resourceVersion: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v)

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, v: str | None) -> str | None:
        if v is not None and (len(v) > 63 or not _SUBDOMAIN.match(v) or "." in v):
            raise ValueError(f"namespace {v!r}: a DNS label (lower-case letters, digits, '-', "
                             "at most 63 characters)")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            check_label_key(key)
            if len(value) > 63 or not _LABEL_VALUE.match(value):
                raise ValueError(f"label {key}={value!r}: values are at most 63 letters, digits, "
                                 "'-', '_' or '.', starting and ending with a letter or digit")
        return v


class KubeObject(Loose):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: dict[str, Any] | None = None
    status: dict[str, Any] | None = None
