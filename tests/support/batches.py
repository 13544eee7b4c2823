"""Loading a bucket, waiting for a batch, and running one in-process (no worker)."""
from __future__ import annotations

from tests.support.waiting import wait_until

# Where a batch (and a pipeline run) ends.
TERMINAL = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED"}
WORDS = "alpha beta gamma delta sports football match goal weather rain sunny cloud".split()


def text_for(i: int) -> str:
    return " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(45)) + "."


def wait_terminal(api, path: str, timeout: float, message: str) -> dict:
    """GET `path` until its status is in TERMINAL; the last view."""
    def done():
        status, body, _ = api.get(path)
        assert status == 200, body
        return body if body["status"] in TERMINAL else None
    return wait_until(done, timeout, interval=0.2, message=message)


def wait_batch(api, batch_id: str, timeout: float = 90) -> dict:
    return wait_terminal(api, f"/v1/batches/{batch_id}", timeout, f"batch {batch_id} to finish")


def load_objects(api, bucket: str, n: int, make) -> None:
    for start in range(0, n, 1000):
        status, body, _ = api.post(f"/v1/buckets/{bucket}/objects/batch",
                                   json={"objects": [make(i) for i in range(start, min(n, start + 1000))]})
        assert status == 200, body


def run_batch(stores, settings, batch_id: str) -> None:
    from shared.engine.batch import batches as engine
    from shared.engine.batch.chunk import process_chunk

    engine.start(stores, batch_id)
    tier, outcome = 0, "next"
    while outcome == "next":
        for chunk_id in engine.launch_tier(stores, settings, batch_id, tier):
            process_chunk(stores, settings, chunk_id)
        outcome = engine.finish_tier(stores, batch_id, tier)
        tier += 1
    assert outcome == "done"
