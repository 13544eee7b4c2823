"""`sluice api --workers N` serves the API with N gunicorn worker processes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path


from cli.localservices import free_port
from tests.support.processes import REPO
from tests.support.waiting import wait_until


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as fh:
            kids.extend(int(x) for x in fh.read().split())
    return kids


def test_sluice_api_serves_with_the_number_of_workers_asked_for(settings, tmp_path):
    port = free_port()
    env = {**os.environ, "MONGO_URL": settings.mongo_url, "REDIS_URL": settings.redis_url,
           "SLUICE_DB": settings.mongo_db, "SLUICE_ADMIN_KEY": settings.admin_key}
    log = tmp_path / "api.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "api", "--port", str(port), "--workers", "3",
                                 "--threads", "2"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        def ready() -> bool:
            # /readyz also wants a Celery worker; this test runs none.
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    return resp.status == 200
            except OSError:
                return False

        wait_until(ready, 60, interval=0.2, message=f"the API to answer: {log}")
        assert "gunicorn" in Path(f"/proc/{proc.pid}/cmdline").read_text().replace("\0", " ")
        wait_until(lambda: len(_children(proc.pid)) == 3, 30, message="3 gunicorn workers")
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/namespaces", method="POST",
                                     data=b'{"namespace_name": "via-gunicorn"}',
                                     headers={"Authorization": f"Bearer {settings.admin_key}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 201
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
