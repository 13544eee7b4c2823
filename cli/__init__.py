"""The `sluice` command line: starts the system's processes and talks to the HTTP API.

Its own top-level package, beside the server's api/, workers/ and shared/, so the server code
never depends on it (tests/unit/test_layering.py)."""
