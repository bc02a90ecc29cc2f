"""The row a new run starts as, for runs the API creates and runs a schedule fires. The
arguments are checked against the pipeline here, so a bad one is a 400, not a failed run."""

from __future__ import annotations

from typing import Any

from flowyard.pipelines import arguments as args_mod
from flowyard.pipelines.errors import PipelineError
from flowyard.pipelines.loader import PipelineDoc, load_pipeline
from flowyard.services.errors import InvalidArgument
from flowyard.store.store import now


def load_spec(spec: dict[str, Any], platform_spec: dict[str, Any] | None = None,
              field: str = "pipeline_spec") -> PipelineDoc:
    """A pipeline from the KFP API's JSON: the IR itself, or {pipeline_spec, platform_spec}."""
    if not isinstance(spec, dict) or not spec:
        raise InvalidArgument(f"{field}: expected a compiled KFP pipeline (an object)")
    doc_in: dict[str, Any] = spec
    if platform_spec and "pipeline_spec" not in spec:
        doc_in = {"pipeline_spec": spec, "platform_spec": platform_spec}
    try:
        return load_pipeline(doc_in)
    except PipelineError as exc:
        raise InvalidArgument(f"{field}: {exc}") from None
    except Exception as exc:  # a malformed IR can fail anywhere in validation
        raise InvalidArgument(f"{field}: not a valid KFP pipeline: {type(exc).__name__}: {exc}"
                              ) from None


def run_fields(doc: PipelineDoc, parameters: dict[str, Any], *, experiment_id: str,
               display_name: str, **extra: Any) -> dict[str, Any]:
    """Columns of a PENDING run, as runner.submit would record them."""
    try:
        bound = args_mod.bind(doc.spec, parameters)
    except PipelineError as exc:
        raise InvalidArgument(f"runtime_config.parameters: {exc}") from None
    name = display_name or f"{doc.name} {now().strftime('%Y-%m-%d %H:%M:%S')}"
    return dict(display_name=name[:255], pipeline_name=doc.name, experiment_id=experiment_id,
                state="PENDING", spec=doc.spec, platform_spec=doc.platform_spec,
                arguments=bound, enable_caching=True, **extra)
