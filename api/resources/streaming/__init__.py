"""Projects, environments and streaming pipelines (seed 004)."""
