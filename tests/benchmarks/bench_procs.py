"""Worker processes for the benchmark and a /proc-based memory sampler (no psutil needed)."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.support.processes import stop_group

REPO = Path(__file__).resolve().parents[2]
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


class BenchWorker:
    """`celery -A tests.benchmarks.bench_app worker` as a separate process group."""

    def __init__(self, env: dict[str, str], concurrency: int, pool: str, loglevel: str = "INFO",
                 queues: str = "default,control"):
        self.name = f"bench{secrets.token_hex(3)}@bench"
        self.log = tempfile.NamedTemporaryFile(prefix="sluice-bench-worker-", suffix=".log", delete=False)
        self.cmd = [sys.executable, "-m", "celery", "-A", "tests.benchmarks.bench_app", "worker",
                    "-Q", queues, "-c", str(concurrency), "-P", pool, "--loglevel", loglevel,
                    "-n", self.name, "--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self, celery: Any, timeout: float = 60) -> "BenchWorker":
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=REPO, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker died at start:\n{self.output()}")
            replies = celery.control.ping(destination=[self.name], timeout=0.5) or []
            if any(self.name in r for r in replies):
                return self
        raise RuntimeError(f"worker {self.name} did not answer ping in {timeout}s:\n{self.output()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-8000:]

    def stop(self) -> None:
        stop_group(self.proc)
        self.log.close()
        os.unlink(self.log.name)


# -- memory ------------------------------------------------------------------------------------
def descendants(pid: int) -> list[int]:
    """pid and all its descendants (via /proc/<pid>/task/<tid>/children, else a /proc scan)."""
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        kids = _children(p)
        stack.extend(kids)
    return out


def _children(pid: int) -> list[int]:
    try:
        kids: list[int] = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids.extend(int(x) for x in fh.read().split())
        return kids
    except FileNotFoundError:
        return _children_by_scan(pid)
    except OSError:
        return []


def _children_by_scan(pid: int) -> list[int]:
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            kids.append(int(name))
    return kids


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def pss_kb(pid: int) -> int:
    """Proportional set size: shared (copy-on-write) pages split between the processes that
    share them, so summing over a prefork pool does not count the parent's pages 3 times."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all CPUs; /proc/stat minus idle, iowait)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK


class CpuMeter:
    """CPU seconds spent by groups of processes between `start()` and `stop()`, plus "other":
    what the rest of the machine used meanwhile (another test run on the same machine shows
    up here and makes the figures unreliable). groups: name -> callable returning pids."""

    def __init__(self, groups: dict[str, Any]):
        self.groups = groups
        self._before: dict[str, dict[int, float]] = {}
        self._busy = 0.0

    def _snapshot(self) -> dict[str, dict[int, float]]:
        return {name: {p: cpu_seconds(p) for p in pids()} for name, pids in self.groups.items()}

    def start(self) -> None:
        self._before = self._snapshot()
        self._busy = machine_busy_seconds()

    def stop(self) -> dict[str, float]:
        busy = machine_busy_seconds() - self._busy
        after = self._snapshot()
        out = {name: round(sum(t - self._before[name].get(p, 0.0) for p, t in after[name].items()), 2)
               for name in self.groups}
        out["other"] = round(max(0.0, busy - sum(out.values())), 2)
        return out


class MemorySampler(threading.Thread):
    """Samples the total RSS (and PSS, less often) of a worker and its children every
    `interval` seconds; keeps the peak per phase (`phase = "engine"` etc.)."""

    def __init__(self, pid: int, interval: float = 0.2, pss_every: int = 5):
        super().__init__(daemon=True, name="memory-sampler")
        self.pid, self.interval, self.pss_every = pid, interval, pss_every
        self.phase = "idle"
        self.peaks: dict[str, dict[str, float]] = {}
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def sample(self, with_pss: bool) -> None:
        pids = descendants(self.pid)
        rss = sum(rss_kb(p) for p in pids) / 1024
        pss = sum(pss_kb(p) for p in pids) / 1024 if with_pss else 0.0
        with self._lock:
            peak = self.peaks.setdefault(self.phase, {"rss_mb": 0.0, "pss_mb": 0.0, "processes": 0,
                                                      "samples": 0})
            peak["rss_mb"] = round(max(peak["rss_mb"], rss), 1)
            peak["pss_mb"] = round(max(peak["pss_mb"], pss), 1)
            peak["processes"] = max(peak["processes"], len(pids))
            peak["samples"] += 1

    def run(self) -> None:
        n = 0
        while not self._halt.is_set():
            self.sample(n % self.pss_every == 0)
            n += 1
            self._halt.wait(self.interval)

    def set_phase(self, phase: str) -> None:
        self.sample(True)          # close the previous phase with a fresh sample
        with self._lock:
            self.phase = phase
        self.sample(True)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


# -- a private mongod with a chosen WiredTiger cache ---------------------------------------------
def start_mongod_with_cache(cache_gb: float, timeout: float = 30.0) -> tuple[str, subprocess.Popen, Path]:
    """Like cli.localservices.start_mongod (single-node replica set on a free port, data in
    a temp dir) but with `cache_gb` of WiredTiger cache instead of the test default 0.25 GB.
    Returns (url, process, workdir); stop the process and remove workdir when done."""
    import shutil

    from cli.localservices import _init_replica_set, _wait_port, find_mongod, free_port

    workdir = Path(tempfile.mkdtemp(prefix="sluice-bench-mongod-"))
    port, log = free_port(), workdir / "mongod.log"
    (workdir / "db").mkdir()
    proc = subprocess.Popen(
        [find_mongod(), "--port", str(port), "--bind_ip", "127.0.0.1", "--dbpath", str(workdir / "db"),
         "--replSet", "rs0", "--wiredTigerCacheSizeGB", str(cache_gb), "--quiet",
         "--setParameter", "diagnosticDataCollectionEnabled=false", "--logpath", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_port(port, proc, "mongod", log, timeout)
        _init_replica_set(port, timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return f"mongodb://127.0.0.1:{port}/?replicaSet=rs0", proc, workdir
