"""How the CLI reports what went wrong: the SDK's errors as text, and the exit codes.

Exit codes used by every `sluice` command that talks to the API:
    0  success (a batch or run that finished COMPLETED or COMPLETED_WITH_ERRORS)
    1  the batch or run ended FAILED or CANCELED
    2  the API refused the request (4xx), the spec or arguments are invalid
    3  the API is unreachable or answered 5xx
    4  gave up waiting (--timeout)
"""
from __future__ import annotations

from sluice.errors import SluiceError
from sluice.status import SUCCESS

EXIT_OK, EXIT_FAILED, EXIT_CLIENT_ERROR, EXIT_SERVER_ERROR, EXIT_TIMEOUT = 0, 1, 2, 3, 4


def exit_code_for_http(status: int) -> int:
    """2 for a 4xx (the request is wrong), 3 for no answer or a 5xx (the server is)."""
    return EXIT_CLIENT_ERROR if 400 <= status < 500 else EXIT_SERVER_ERROR


def exit_code_for_status(status: str) -> int:
    """0 for COMPLETED and COMPLETED_WITH_ERRORS, 1 for FAILED and CANCELED (and anything else)."""
    return EXIT_OK if status in SUCCESS else EXIT_FAILED


def exit_code(err: SluiceError) -> int:
    return exit_code_for_http(err.status)


def format_error(err: SluiceError) -> str:
    """One headline, then one line per detail:

        error: 400 validation_error: invalid request: 2 problem(s)  (POST /v1/collections)
          source.filters.AND.0.operator: unknown operator 'equals'
          bogus: unknown field
    """
    where = f"  ({err.method} {err.path})" if err.method and err.path else ""
    status = f"{err.status} " if err.status and err.method else ""  # local checks have no HTTP status
    lines = [f"error: {status}{err.code}: {err.message}{where}"]
    for d in err.details:
        path, msg = d.get("path") or "", d.get("message") or ""
        lines.append(f"  {path}: {msg}" if path else f"  {msg}")
    return "\n".join(lines)
