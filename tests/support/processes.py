"""Real Celery worker and beat processes, started by the `start_worker` / `start_beat` fixtures
(tests/conftest.py) and by the browser tests and benchmarks."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


def stop_group(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    """SIGTERM a process started with start_new_session (and everything in its group), and
    SIGKILL the group if it has not exited after `timeout` seconds."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class WorkerProcess:
    def __init__(self, env: dict[str, str], queues: str = "default,control", concurrency: int = 2,
                 pool: str = "prefork", prefix: Sequence[str] = ()):
        """`prefix`: a command to run the worker under (`ip netns exec <ns>`: on a test host)."""
        self.name = f"w{secrets.token_hex(3)}@test"
        self.log = tempfile.NamedTemporaryFile(prefix="sluice-worker-", suffix=".log", delete=False)
        self.cmd = [*prefix, sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", queues,
                    "-c", str(concurrency), "-P", pool, "--loglevel", "INFO", "-n", self.name,
                    "--without-gossip", "--without-mingle"]
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self, sender, timeout: float = 60) -> "WorkerProcess":
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_until(lambda: self.name in sender.ping_workers(timeout=0.5) or self._dead(), timeout,
                   message=f"worker {self.name} to answer ping")
        if self._dead():
            raise AssertionError(f"worker died at start:\n{self.output()}")
        return self

    def _dead(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-8000:]

    def children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        stop_group(self.proc)
        self.log.close()


class BeatProcess:
    """A real `celery beat` process (its schedule file in a temp dir)."""

    def __init__(self, env: dict[str, str]):
        self.dir = tempfile.mkdtemp(prefix="sluice-beat-")
        self.log = open(Path(self.dir) / "beat.log", "w")
        self.cmd = [sys.executable, "-m", "celery", "-A", "workers.app", "beat", "-s",
                    str(Path(self.dir) / "schedule"), "--loglevel", "INFO"]
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> "BeatProcess":
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def stop(self) -> None:
        stop_group(self.proc)
        self.log.close()
