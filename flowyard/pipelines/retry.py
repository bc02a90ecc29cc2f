"""KFP's retryPolicy: how often, and how long to wait between attempts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _seconds(text: Any, default: float) -> float:
    if text is None:
        return default
    if isinstance(text, int | float):
        return float(text)
    s = str(text).strip()
    return float(s[:-1]) if s.endswith("s") else float(s)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 0
    backoff: float = 0.0
    factor: float = 2.0
    max_backoff: float = 3600.0

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> RetryPolicy:
        if not spec:
            return cls()
        return cls(
            max_retries=int(spec.get("maxRetryCount", 0)),
            backoff=_seconds(spec.get("backoffDuration"), 0.0),
            factor=float(spec.get("backoffFactor", 2.0)),
            max_backoff=_seconds(spec.get("backoffMaxDuration"), 3600.0),
        )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.backoff * self.factor ** (attempt - 1), self.max_backoff)
