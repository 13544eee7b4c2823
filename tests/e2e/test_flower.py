"""Flower, started against the test broker, shows our workers and our task names, with
arguments that name the batch, tier and chunk."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from cli.localservices import free_port
from tests.support.batches import load_objects, wait_batch
from tests.support.processes import REPO
from tests.support.waiting import wait_until


def get_json(url: str):
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def get_text(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.read().decode()
    except OSError:
        return None


def test_flower_lists_workers_and_sluice_tasks(api, worker_env, start_worker, tmp_path):
    pytest.importorskip("flower")
    port = free_port()
    log = open(tmp_path / "flower.log", "w")
    flower = subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers.app", "flower", f"--port={port}",
                               "--address=127.0.0.1"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              env={**worker_env, "FLOWER_UNAUTHENTICATED_API": "true"})
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: get_text(f"{base}/healthcheck") == "OK", 30, message="flower to listen")
        w = start_worker(concurrency=1)
        api.post("/v1/buckets", json={"bucket_name": "b"})
        load_objects(api, "b", 250, lambda i: {"data": {"i": i}})
        api.post("/v1/collections", json={"collection_name": "c", "source": {"type": "bucket", "bucket_id": "b"}})
        _, trig, _ = api.post("/v1/collections/c/trigger", json={})
        wait_batch(api, trig["batch_id"])
        workers = wait_until(lambda: (get_json(f"{base}/api/workers?refresh=1") or {}).get(w.name), 30,
                             message="flower to see the worker")
        assert workers

        def chunk_tasks():
            tasks = get_json(f"{base}/api/tasks?limit=100") or {}
            return [t for t in tasks.values() if t.get("name") == "sluice.batch.process_chunk"]
        chunks = wait_until(chunk_tasks, 30, message="flower to list our chunk tasks")
        # the argument is the chunk id: batch, attempt, tier, collection, chunk index
        assert all(trig["batch_id"] in t["args"] for t in chunks)
        names = {t["name"] for t in (get_json(f"{base}/api/tasks?limit=100") or {}).values()}
        assert {"sluice.batch.start", "sluice.batch.tier_done"} <= names
    finally:
        flower.terminate()
        flower.wait(timeout=20)
        log.close()
