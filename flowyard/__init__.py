"""Flowyard: Kubeflow's formats and APIs, run on one machine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from flowyard.client import Client
    from flowyard.pipelines.runner import Run

__all__ = ["Client", "Run", "__version__", "run"]


def run(
    pipeline: Any,
    arguments: dict[str, Any] | None = None,
    *,
    experiment: str | None = None,
    enable_caching: bool = True,
    run_name: str | None = None,
) -> Run:
    """Run a KFP pipeline (a `@dsl.pipeline` function, a compiled YAML/JSON path or
    `file.py[:function]`) to completion on this machine and return the stored run."""
    from flowyard.pipelines.runner import run_pipeline

    return run_pipeline(
        pipeline,
        arguments or {},
        experiment=experiment,
        enable_caching=enable_caching,
        run_name=run_name,
    )


def __getattr__(name: str) -> Any:
    if name == "Run":
        from flowyard.pipelines.runner import Run

        return Run
    if name == "Client":
        from flowyard.client import Client

        return Client
    raise AttributeError(name)
