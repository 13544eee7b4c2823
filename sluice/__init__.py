"""The Python client of the Sluice API.

    from sluice import Sluice
    client = Sluice("sk_…")                      # or SLUICE_API_KEY / SLUICE_URL / SLUICE_NAMESPACE
    client.objects.upload("articles", items)     # any iterable, split into server-sized batches
    batch = client.collections.trigger("chunks", idempotency_key="run-42")
    view = client.batches.wait(batch["batch_id"], progress=True)

This package needs only `requests` and the standard library (live progress bars use `rich` when
it is installed): it never imports the server's api/, workers/ or shared/.
"""
from sluice.client import Sluice
from sluice.errors import (AuthError, ConflictError, JobFailed, NotFoundError, RateLimitedError, SluiceError,
                           TimeoutExpired, UnavailableError, UnprocessableError, ValidationError)

__all__ = ["Sluice", "SluiceError", "ValidationError", "AuthError", "NotFoundError", "ConflictError",
           "UnprocessableError", "RateLimitedError", "UnavailableError", "TimeoutExpired", "JobFailed"]
