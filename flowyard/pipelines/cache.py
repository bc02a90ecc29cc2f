"""Cache keys: the same component with the same resolved inputs gives the same key, in any
run, so a finished task is reused instead of re-executed."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def cache_key(component: dict[str, Any], executor: dict[str, Any],
              parameters: dict[str, Any], artifacts: dict[str, list[dict[str, Any]]]) -> str:
    container = executor.get("container", executor)
    material = {
        "inputDefinitions": component.get("inputDefinitions", {}),
        "outputDefinitions": component.get("outputDefinitions", {}),
        "container": {k: container.get(k) for k in ("image", "command", "args", "env")},
        "parameters": parameters,
        # An input artifact is identified by where it lives and what it says about itself.
        "artifacts": {n: [[a.get("uri"), a.get("metadata", {})] for a in arts]
                      for n, arts in sorted(artifacts.items())},
    }
    blob = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
