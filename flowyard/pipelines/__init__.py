"""The KFP v2 IR interpreter: load a PipelineSpec, check it, and run it against the store."""
