"""`sluice up` brings the whole system up on the embedded default and Ctrl-C stops it."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

from cli.localservices import free_port
from tests.support.processes import REPO
from tests.support.waiting import wait_until


def http(method: str, url: str, key: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
        req.add_header("X-Namespace", "default")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_sluice_up_serves_the_api_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    log = tmp_path / "up.log"
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URL", "REDIS_URL")}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "up", "--port", str(port)], cwd=REPO,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        key = wait_until(lambda: (m := re.search(r"API key\s+(sk_\S+)", log.read_text())) and m.group(1),
                         60, message="sluice up to print a key")
        base = f"http://127.0.0.1:{port}"

        def ready():
            try:
                return http("GET", f"{base}/readyz")[0] == 200
            except OSError:
                return False
        wait_until(ready, 60, interval=0.3, message="the API to be ready")
        status, body = http("POST", f"{base}/v1/buckets", key, {"bucket_name": "from-up"})
        assert status == 201, body
        status, body = http("POST", f"{base}/v1/buckets/list", key, {})
        assert [b["bucket_name"] for b in body["results"]] == ["from-up"]
        # a real worker answers: a trigger on an empty collection completes
        http("POST", f"{base}/v1/collections", key, {"collection_name": "c",
                                                      "source": {"type": "bucket", "bucket_id": "from-up"}})
        _, trig = http("POST", f"{base}/v1/collections/c/trigger", key, {})
        wait_until(lambda: http("GET", f"{base}/v1/batches/{trig['batch_id']}", key)[1]["status"] == "COMPLETED",
                   60, interval=0.3, message="the batch to complete")
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=60)
    assert rc == 0, log.read_text()[-3000:]
    leftovers = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}"], capture_output=True, text=True).stdout
    assert leftovers.strip() == ""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sluice_up_started_in_the_background_of_a_script_stops_on_sigint_and_sigterm(tmp_path, sig):
    """`sluice up &` in a non-interactive shell starts with SIGINT ignored (POSIX, for
    background jobs): the documented Ctrl-C/kill -INT must still stop everything."""
    port = free_port()
    log, pidfile = tmp_path / "up.log", tmp_path / "up.pid"
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URL", "REDIS_URL")}
    script = f"'{sys.executable}' -m cli up --port {port} >'{log}' 2>&1 & echo $! >'{pidfile}'; wait $!"
    shell = subprocess.Popen(["bash", "-c", script], cwd=REPO, env=env, start_new_session=True)
    pid = None
    try:
        pid = wait_until(lambda: pidfile.exists() and pidfile.read_text().strip() and int(pidfile.read_text()),
                         10, message="the shell to start sluice up")
        # The background job opens its log itself, possibly after the shell wrote the pid file.
        wait_until(lambda: log.exists() and "Sluice is up" in log.read_text(), 90, interval=0.3,
                   message="sluice up to be up")
        os.kill(pid, sig)
        rc = shell.wait(timeout=60)  # the shell's `wait` returns sluice up's exit status
    finally:
        if shell.poll() is None and pid:  # it ignored the signal: SIGTERM stops its children too
            os.kill(pid, signal.SIGTERM)
            try:
                shell.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait(timeout=10)
    assert rc == 0, log.read_text()[-3000:]
    assert "stopping" in log.read_text()
    leftovers = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}"], capture_output=True, text=True).stdout
    assert leftovers.strip() == ""
