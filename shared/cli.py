"""The `sluice` command line. Starts processes; never imports Flask or Celery itself."""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from typing import Sequence

from shared.tasknames import QUEUES


def _python() -> str:
    return sys.executable


def api_cmd(port: int, workers: int = 2) -> list[str]:
    if shutil.which("gunicorn") or _has_module("gunicorn"):
        return [_python(), "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                "--threads", "4", "--access-logfile", "-", "api.wsgi:create()"]
    return [_python(), "-m", "flask", "--app", "api.wsgi:create()", "run", "--port", str(port),
            "--no-reload", "--with-threads"]


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


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _bootstrap(env: dict[str, str]) -> str:
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


def cmd_up(args: argparse.Namespace) -> int:
    from shared.localservices import ensure_services, free_port

    services = ensure_services()
    env = {**os.environ, **services.env()}
    env.setdefault("SLUICE_ADMIN_KEY", "sk_admin_" + secrets.token_urlsafe(24))
    procs: list[tuple[str, subprocess.Popen]] = []
    api_port = args.port or free_port()
    try:
        key = _bootstrap(env)
        schedule_file = os.path.join(services.workdir or "/tmp", "beat-schedule")
        plan = [("api", api_cmd(api_port)), ("worker", worker_cmd(concurrency=args.concurrency)),
                ("beat", beat_cmd(schedule_file))]
        flower_port = None
        if _has_module("flower"):
            flower_port = args.flower_port or free_port()
            plan.append(("flower", flower_cmd(flower_port)))
        for name, cmd in plan:
            procs.append((name, subprocess.Popen(cmd, env=env, start_new_session=True)))
        print(f"""
Sluice is up.
  API      http://127.0.0.1:{api_port}   (OpenAPI: /v1/openapi.json, health: /readyz)
  Flower   {f'http://127.0.0.1:{flower_port}' if flower_port else 'not installed (pip install .[ops])'}
  MongoDB  {services.mongo_url}
  Redis    {services.redis_url}
  API key  {key}   (scoped to every namespace; namespace 'default' exists)
  Admin    {env['SLUICE_ADMIN_KEY']}

  curl -H 'Authorization: Bearer {key}' -H 'X-Namespace: default' http://127.0.0.1:{api_port}/v1/buckets/list -X POST --json '{{}}'

Ctrl-C stops everything.""", flush=True)
        while all(p.poll() is None for _, p in procs):
            time.sleep(0.5)
        dead = [name for name, p in procs if p.poll() is not None]
        print(f"process exited: {', '.join(dead)}; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        _stop(procs)
        services.stop()


def _stop(procs: list[tuple[str, subprocess.Popen]]) -> None:
    for _, p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 15
    for _, p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def _exec(cmd: list[str]) -> int:
    os.execvp(cmd[0], cmd)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sluice", description="Sluice data-pipeline engine")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start API, worker, beat and Flower on a private MongoDB and Redis")
    up.add_argument("--port", type=int, default=None)
    up.add_argument("--flower-port", type=int, default=None)
    up.add_argument("--concurrency", type=int, default=2)
    api = sub.add_parser("api", help="run the API server (needs MONGO_URL and REDIS_URL)")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=2)
    worker = sub.add_parser("worker", help="run a Celery worker")
    worker.add_argument("-Q", "--queues", default=",".join(QUEUES))
    worker.add_argument("-c", "--concurrency", type=int, default=2)
    worker.add_argument("-P", "--pool", default="prefork")
    beat = sub.add_parser("beat", help="run Celery beat (fires the scheduling tick and watchdog)")
    beat.add_argument("-s", "--schedule", default="/tmp/sluice-beat-schedule")
    flower = sub.add_parser("flower", help="run Flower")
    flower.add_argument("--port", type=int, default=5555)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "up":
        return cmd_up(args)
    if args.command == "api":
        return _exec(api_cmd(args.port, args.workers))
    if args.command == "worker":
        return _exec(worker_cmd(args.queues.split(","), args.concurrency, args.pool))
    if args.command == "beat":
        return _exec(beat_cmd(args.schedule))
    if args.command == "flower":
        return _exec(flower_cmd(args.port))
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
