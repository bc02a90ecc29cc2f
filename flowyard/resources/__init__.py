"""Kubeflow-shaped objects: apiVersion, kind, metadata, spec, status. Pydantic models check
what Flowyard acts on and keep every other field, so an object round-trips unchanged."""

from flowyard.resources.kinds import KindInfo, kind_for, kind_for_plural
from flowyard.resources.objects import ObjectError, validate

__all__ = ["KindInfo", "ObjectError", "kind_for", "kind_for_plural", "validate"]
