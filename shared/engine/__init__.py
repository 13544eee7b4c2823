"""The batch engine's logic as plain functions: planning, document building, chunk work."""
