"""What the control-plane store modules raise; the services turn them into API errors."""

from __future__ import annotations


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """The write would break a uniqueness rule or lost an optimistic-concurrency race."""
