"""The processes `sluice` starts: API, worker, beat, Flower, and `embedded()`, the whole system
on a private MongoDB and Redis (what `sluice up` and `sluice demo` run). Never imports Flask
or Celery itself: everything runs as a subprocess."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator, Sequence

from shared.tasknames import QUEUES


def _python() -> str:
    return sys.executable


def has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


API_THREADS = 4


def api_cmd(port: int, workers: int = 2, threads: int = API_THREADS, host: str = "127.0.0.1") -> list[str]:
    """gunicorn with `workers` processes of `threads` threads each. Never Flask's development
    server: it served ~26 requests/s under 32 clients where gunicorn 2 x 4 served ~95, and it
    ignored `workers`. gunicorn is a hard dependency; if it is missing anyway, refuse loudly
    rather than serve slowly. The app logs every request itself (sluice.api.access), so
    gunicorn's own access log stays off: the same line twice costs CPU under load."""
    if not has_module("gunicorn"):
        raise SystemExit("sluice api: gunicorn is not installed in this environment (it is a dependency "
                         "of sluice: reinstall with `pip install .`); refusing to fall back to Flask's "
                         "development server")
    if workers < 1 or threads < 1:
        raise SystemExit("sluice api: --workers and --threads must be at least 1")
    return [_python(), "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
            "--threads", str(threads), "api.wsgi:create()"]


def worker_cmd(queues: Sequence[str] = QUEUES, concurrency: int = 2, pool: str = "prefork",
               extra: Sequence[str] = ()) -> list[str]:
    return [_python(), "-m", "celery", "-A", "workers.app", "worker", "-Q", ",".join(queues),
            "-c", str(concurrency), "-P", pool, "--loglevel", "INFO", "-E", *extra]


def beat_cmd(schedule_file: str) -> list[str]:
    return [_python(), "-m", "celery", "-A", "workers.app", "beat", "-s", schedule_file,
            "--loglevel", "INFO"]


def flower_cmd(port: int) -> list[str]:
    return [_python(), "-m", "celery", "-A", "workers.app", "flower", f"--port={port}",
            "--address=127.0.0.1"]


def local_secret_key(config_home: str | None = None) -> str:
    """The key `sluice up` seals secrets with when it runs against an external MongoDB and
    SLUICE_SECRET_KEY is unset: generated once into $XDG_CONFIG_HOME/sluice/secret.key
    (~/.config by default), readable by its owner only, and reused by every later run."""
    from shared.secrets.box import generate_key, key_problem

    base = Path(config_home or os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    path = base / "sluice" / "secret.key"
    if path.exists():
        key = path.read_text().strip()
        if key_problem(key) is None:
            return key
        raise SystemExit(f"{path} does not hold a Fernet key; fix it or set SLUICE_SECRET_KEY")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    print(f"sluice up: generated the key that seals connection secrets: {path} (keep it; "
          "set SLUICE_SECRET_KEY to it in other deployments of this database)", file=sys.stderr)
    return key


def bootstrap(env: dict[str, str]) -> str:
    """Create the 'default' namespace and a key scoped to every namespace; return the secret."""
    from shared.settings import Settings
    from shared.stores import Stores

    stores = Stores.from_settings(Settings.from_env(env))
    stores.ensure_indexes()
    if stores.namespaces.find("default") is None:
        stores.namespaces.create("default", "created by sluice up", {})
    _, secret = stores.api_keys.create("sluice-up", "*")
    stores.mongo.close()
    return secret


def stop_processes(procs: list[tuple[str, subprocess.Popen]], grace: float = 15) -> None:
    """SIGTERM each process group, wait up to `grace` seconds in all, then SIGKILL."""
    for _, p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for _, p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=10)


@dataclass
class Embedded:
    """A running system: its URLs, keys and processes."""

    api_url: str
    flower_url: str | None
    mongo_url: str
    redis_url: str
    key: str            # scoped to every namespace
    admin_key: str
    procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    log_dir: Path | None = None

    def dead(self) -> list[str]:
        return [name for name, p in self.procs if p.poll() is not None]

    def why_dead(self) -> str | None:
        """A reason to give up (a process exited), or None while everything runs."""
        dead = self.dead()
        if not dead:
            return None
        where = f"; logs in {self.log_dir}" if self.log_dir else ""
        return f"process exited: {', '.join(dead)}{where}"

    def wait_ready(self, timeout: float = 60) -> None:
        """Until GET /readyz answers 200 (MongoDB and Redis reachable from the API)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reason = self.why_dead()
            if reason:
                raise RuntimeError(reason)
            try:
                with urllib.request.urlopen(f"{self.api_url}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API at {self.api_url} was not ready within {timeout:g}s")

    def banner(self) -> str:
        api = self.api_url
        return f"""
Sluice is up.
  API      {api}   (OpenAPI: /v1/openapi.json, health: /readyz)
  Console  {api}/ui/   (sign in with the API key below)
  Flower   {self.flower_url or 'not installed (pip install .[ops])'}
  MongoDB  {self.mongo_url}
  Redis    {self.redis_url}
  API key  {self.key}   (scoped to every namespace; namespace 'default' exists)
  Admin    {self.admin_key}

  curl -H 'Authorization: Bearer {self.key}' -H 'X-Namespace: default' {api}/v1/buckets/list -X POST --json '{{}}'
  export SLUICE_URL={api} SLUICE_API_KEY={self.key}   # then: sluice apply examples/sluice.yaml, sluice trigger …

Ctrl-C stops everything."""


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def embedded(port: int | None = None, flower_port: int | None = None, concurrency: int = 2,
             flower: bool = True, log_dir: Path | None = None, api_workers: int = 2) -> Iterator[Embedded]:
    """Start MongoDB and Redis (or use MONGO_URL/REDIS_URL), bootstrap a key, then the API, a
    worker, beat and (if installed) Flower; stop all of it on exit. Children share this
    process's stdout unless `log_dir` is given (then one log file each). SIGINT and SIGTERM both
    become KeyboardInterrupt meanwhile, so Ctrl-C and `kill` stop everything. SIGINT is set
    explicitly: a shell starts a background job (`sluice up &` in a script) with SIGINT
    ignored, and Python then never installs its own handler. A second signal while stopping is
    ignored, so the cleanup always runs to the end."""
    from cli.localservices import ensure_services, free_port

    main_thread = threading.current_thread() is threading.main_thread()
    old_handlers = {sig: signal.signal(sig, handler) for sig, handler in
                    ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, _raise_interrupt))} \
        if main_thread else {}
    services = None
    procs: list[tuple[str, subprocess.Popen]] = []
    logs: list[IO] = []
    try:
        os.environ.setdefault("SLUICE_MONGOD_CACHE_GB", "1")  # a working system, not a test fixture
        services = ensure_services()
        env = {**os.environ, **services.env()}
        env.setdefault("SLUICE_ADMIN_KEY", "sk_admin_" + secrets.token_urlsafe(24))
        if services.started_mongo:
            # The private mongod's data is deleted on exit, so a fresh key per run loses nothing
            # (and spares the "SLUICE_SECRET_KEY is not set" warning meant for deployments).
            from shared.secrets.box import generate_key

            env.setdefault("SLUICE_SECRET_KEY", generate_key())
        elif not env.get("SLUICE_SECRET_KEY"):
            # An external MongoDB keeps its data between runs, and so must the key its
            # secrets are sealed with (the admin-key fallback changes with every run's key).
            env["SLUICE_SECRET_KEY"] = local_secret_key()
        # Flower listens on loopback only here, so its API may answer without its own auth.
        env.setdefault("FLOWER_UNAUTHENTICATED_API", "true")
        key = bootstrap(env)
        api_port = port or free_port()
        schedule_file = os.path.join(services.workdir or "/tmp", f"beat-schedule-{api_port}")
        plan = [("api", api_cmd(api_port, api_workers)), ("worker", worker_cmd(concurrency=concurrency)),
                ("beat", beat_cmd(schedule_file))]
        flower_url = None
        if flower and has_module("flower"):
            fport = flower_port or free_port()
            plan.append(("flower", flower_cmd(fport)))
            flower_url = f"http://127.0.0.1:{fport}"
            env.setdefault("SLUICE_FLOWER_URL", flower_url)   # the console links to it
        for name, cmd in plan:
            out = None
            if log_dir is not None:
                out = open(Path(log_dir) / f"{name}.log", "w")
                logs.append(out)
            procs.append((name, subprocess.Popen(cmd, env=env, start_new_session=True, stdout=out,
                                                 stderr=subprocess.STDOUT if out else None)))
        yield Embedded(f"http://127.0.0.1:{api_port}", flower_url, services.mongo_url, services.redis_url,
                       key, env["SLUICE_ADMIN_KEY"], procs, log_dir)
    finally:
        for sig in old_handlers:
            signal.signal(sig, signal.SIG_IGN)
        try:
            stop_processes(procs)
        finally:
            for f in logs:
                f.close()
            if services is not None:
                services.stop()
            for sig, old in old_handlers.items():
                signal.signal(sig, old)
