"""The `sluice` client commands as real subprocesses against a real system: `sluice demo` end to
end, and `sluice apply / trigger / run / status` against `sluice up`."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from cli.localservices import free_port
from tests.support.processes import REPO
from tests.support.waiting import wait_until

EXAMPLE = REPO / "examples" / "sluice.yaml"


def clean_env(**extra: str) -> dict[str, str]:
    """No MONGO_URL/REDIS_URL: each system starts its own servers, as a user's first run does."""
    drop = ("MONGO_URL", "REDIS_URL", "SLUICE_URL", "SLUICE_API_KEY", "SLUICE_NAMESPACE", "SLUICE_ADMIN_KEY")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "PYTHONUNBUFFERED": "1", **extra}


def sluice(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def no_process_listens_on(port: int) -> bool:
    out = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}"], capture_output=True, text=True).stdout
    return out.strip() == ""


def test_demo_runs_the_whole_path_and_stops_everything():
    port = free_port()
    done = sluice("demo", "--objects", "300", "--port", str(port), env=clean_env(), timeout=150)
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-3000:]
    for kind, name in [("namespace", "demo"), ("bucket", "articles"), ("collection", "stats"),
                       ("pipeline", "digest")]:
        assert re.search(rf"created\s+{kind}\s+{name}", out), out
    assert re.search(r"objects\s+300 in bucket 'articles'", out)
    batch = re.search(r"batch\s+(bat_\w+) COMPLETED in [\d.]+s over 3 tiers: \d+ objects/s", out)
    assert batch, out
    docs = {k: int(v) for k, v in re.findall(r"(chunks|normalized|stats|digest) (\d+)",
                                                   out.split("documents", 1)[1].splitlines()[0])}
    assert docs["chunks"] >= 300 and 0 < docs["stats"] <= docs["normalized"] <= docs["chunks"]
    assert 0 < docs["digest"] < 300  # the pipeline keeps two of four topics
    assert re.search(r"read\s+passed\s+300\s+failed\s+0", out)
    assert re.search(rf"write\s+passed\s+{docs['digest']}\s+failed\s+0", out)
    assert f"http://127.0.0.1:{port}" in out and re.search(r"API key\s+sk_", out)
    assert no_process_listens_on(port)


@pytest.fixture
def system(tmp_path: Path):
    """`sluice up` on a free port; yields (url, key, admin key); Ctrl-C afterwards."""
    port = free_port()
    log = tmp_path / "up.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "up", "--port", str(port)], cwd=REPO,
                                env=clean_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        keys = wait_until(lambda: (m := re.search(r"API key\s+(sk_\S+).*?Admin\s+(\S+)", log.read_text(), re.S))
                          and m.groups(), 60, interval=0.2, message="sluice up to print its keys")
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return requests.get(f"{url}/readyz", timeout=2).status_code == 200
            except requests.RequestException:
                return False
        wait_until(ready, 60, interval=0.2, message="the API to be ready")
        yield url, keys[0], keys[1]
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=60)
    assert rc == 0, log.read_text()[-3000:]
    assert no_process_listens_on(port)


def test_apply_trigger_run_and_status_against_sluice_up(system):
    url, key, admin = system
    as_admin = clean_env(SLUICE_URL=url, SLUICE_API_KEY=admin)
    first = sluice("apply", str(EXAMPLE), env=as_admin)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "apply: 9 created, 0 updated, 0 unchanged" in first.stdout
    second = sluice("apply", str(EXAMPLE), env=as_admin)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "created" not in second.stdout.replace("0 created", "")
    assert "apply: 0 created, 0 updated, 9 unchanged" in second.stdout

    env = clean_env(SLUICE_URL=url, SLUICE_API_KEY=key, SLUICE_NAMESPACE="examples")
    objects = [{"data": {"sku": f"s{i}", "title": f"t{i}",
                         "body": " ".join(["software data cloud physics"] * (5 + i % 20))}} for i in range(40)]
    resp = requests.post(f"{url}/v1/buckets/articles/objects/batch", json={"objects": objects},
                         headers={"Authorization": f"Bearer {key}", "X-Namespace": "examples"}, timeout=10)
    assert resp.status_code == 200, resp.text

    trig = sluice("trigger", "chunks", "--wait", env=env)
    assert trig.returncode == 0, trig.stdout + trig.stderr
    batch_id = re.search(r"batch_id (bat_\w+)", trig.stdout).group(1)
    assert re.search(rf"batch {batch_id} COMPLETED in [\d.]+s", trig.stdout), trig.stdout
    assert "tier 1 chunk-stats" in trig.stdout  # plain progress lines, one bar per tier

    status = sluice("status", batch_id, "--json", env=env)
    assert status.returncode == 0, status.stderr
    view = json.loads(status.stdout)
    assert view["status"] == "COMPLETED" and view["tiers"][0]["counters"]["processed"] == 40
    table = sluice("status", batch_id, env=env)
    assert table.returncode == 0 and "chunk-stats" in table.stdout

    run = sluice("run", "digest", "--full", "--wait", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "read 40/0, filter 40/0, transform 40/0, validate 40/0, write 40/0" in run.stdout

    missing = sluice("trigger", "nosuch", env=env)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: 404 collection_not_found:")
