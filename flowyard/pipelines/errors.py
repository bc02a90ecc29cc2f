"""Errors a user sees. Each names the field or input at fault and what was expected."""


class PipelineError(ValueError):
    """The pipeline or its arguments are not acceptable; raised before anything runs."""


class TaskError(RuntimeError):
    """A task could not run or failed; the message is shown on the task and the run."""
