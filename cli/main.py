"""The `sluice` command line. Starts processes and talks to the HTTP API; never imports Flask
or Celery itself.

    sluice up | api | worker | beat | flower           run the system, or one role of it
    sluice trigger COLLECTION [--wait]                 process a collection DAG (a batch)
    sluice run PIPELINE [--incremental|--full] [--wait]
    sluice status bat_…|run_…|tsk_… [--json]
    sluice apply FILE                                  create/update resources from a YAML/JSON spec
    sluice demo [--objects 3000] [--keep]              the whole thing end to end, on the embedded default
    sluice reseal                                      re-encrypt stored secrets with the first SLUICE_SECRET_KEY

API options (any command that talks to the API): --url (SLUICE_URL, default
http://127.0.0.1:8000), --key (SLUICE_API_KEY), --namespace (SLUICE_NAMESPACE, default
"default"). Exit codes: see cli/errors.py. Every API call goes through the sluice SDK.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, Sequence

from cli.procs import api_cmd, beat_cmd, embedded, flower_cmd, worker_cmd
from shared.tasknames import QUEUES


def cmd_up(args: argparse.Namespace) -> int:
    try:
        with embedded(port=args.port, flower_port=args.flower_port, concurrency=args.concurrency,
                      api_workers=args.api_workers) as system:
            print(system.banner(), flush=True)
            try:
                while not system.dead():
                    time.sleep(0.5)
            except KeyboardInterrupt:
                print("\nstopping...", flush=True)
                return 0
            print(f"process exited: {', '.join(system.dead())}; stopping", file=sys.stderr, flush=True)
            return 1
    except KeyboardInterrupt:
        print("\nstopped", flush=True)
        return 0


def _exec(cmd: list[str]) -> int:
    os.execvp(cmd[0], cmd)
    return 0  # not reached


def _client(args: argparse.Namespace):
    from sluice import Sluice

    return Sluice(args.key, url=args.url, namespace=args.namespace)


def _console():
    from sluice.progress import make_console

    return make_console()


def cmd_trigger(args: argparse.Namespace) -> int:
    from cli.ops import cmd_trigger as trigger

    return trigger(_client(args), _console(), args.collection, filters=args.filters, object_ids=args.object_ids,
                   idempotency_key=args.idempotency_key, wait=args.wait, timeout=args.timeout,
                   interval=args.interval)


def cmd_run(args: argparse.Namespace) -> int:
    from cli.ops import cmd_run as run

    return run(_client(args), _console(), args.pipeline, incremental=args.incremental, wait=args.wait,
               timeout=args.timeout, interval=args.interval)


def cmd_status(args: argparse.Namespace) -> int:
    from cli.ops import cmd_status as status

    return status(_client(args), _console(), args.id, as_json=args.json)


def cmd_apply(args: argparse.Namespace) -> int:
    from cli.apply import apply_file

    apply_file(_client(args), args.file, out=lambda line: print(line, flush=True))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from cli.demo import run_demo

    return run_demo(objects=args.objects, keep=args.keep, port=args.port, concurrency=args.concurrency)


def cmd_reseal(args: argparse.Namespace) -> int:
    """Talks to MongoDB directly (MONGO_URL, SLUICE_DB, SLUICE_SECRET_KEY), like the workers:
    secrets are never decrypted by or sent through the API."""
    from shared.settings import Settings
    from shared.stores import Stores

    stores = Stores.from_settings(Settings.from_env())
    try:
        report = stores.reseal_secrets()
    finally:
        stores.mongo.close()
    unreadable = 0
    for kind, outcome in report.items():
        unreadable += len(outcome["unreadable"])
        print(f"{kind}: {outcome['resealed']} re-encrypted"
              + (f"; no key opens: {', '.join(outcome['unreadable'])}" if outcome["unreadable"] else ""))
    return 1 if unreadable else 0


def _api_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """--url/--key/--namespace, accepted before or after the subcommand."""
    kw = {"default": argparse.SUPPRESS} if suppress else {"default": None}
    parser.add_argument("--url", help="API base URL (env SLUICE_URL; default http://127.0.0.1:8000)", **kw)
    parser.add_argument("--key", help="API key (env SLUICE_API_KEY)", **kw)
    parser.add_argument("--namespace", "-n", help="namespace name or id (env SLUICE_NAMESPACE; default 'default')",
                        **kw)


def _wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", "-w", action="store_true", help="follow progress until it ends; exit 1 on "
                                                                  "FAILED or CANCELED")
    parser.add_argument("--timeout", type=float, default=None, help="with --wait: give up after this many "
                                                                    "seconds (exit 4)")
    parser.add_argument("--interval", type=float, default=0.5, help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sluice", description="Sluice data-pipeline engine",
                                     epilog="exit codes: 0 ok, 1 batch/run FAILED or CANCELED, 2 request or "
                                            "spec refused (4xx), 3 API unreachable or 5xx, 4 --timeout")
    _api_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _api_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start API, worker, beat and Flower on a private MongoDB and Redis")
    up.add_argument("--port", type=int, default=None)
    up.add_argument("--flower-port", type=int, default=None)
    up.add_argument("--concurrency", type=int, default=2)
    up.add_argument("--api-workers", type=int, default=2, help="gunicorn worker processes of the API")
    api = sub.add_parser("api", help="run the API server under gunicorn (needs MONGO_URL and REDIS_URL)")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    api.add_argument("--threads", type=int, default=4, help="threads per worker process (default 4)")
    api.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for "
                                                         "every interface)")
    worker = sub.add_parser("worker", help="run a Celery worker")
    worker.add_argument("-Q", "--queues", default=",".join(QUEUES))
    worker.add_argument("-c", "--concurrency", type=int, default=2)
    worker.add_argument("-P", "--pool", default="prefork")
    beat = sub.add_parser("beat", help="run Celery beat (fires the scheduling tick and watchdog)")
    beat.add_argument("-s", "--schedule", default="/tmp/sluice-beat-schedule")
    flower = sub.add_parser("flower", help="run Flower")
    flower.add_argument("--port", type=int, default=5555)

    trig = sub.add_parser("trigger", parents=[common], help="trigger a collection (and everything downstream)")
    trig.add_argument("collection", help="collection id or name")
    trig.add_argument("--filters", help='source filters as JSON, e.g. \'{"status": "PENDING"}\'')
    trig.add_argument("--object-id", dest="object_ids", action="extend", nargs="+", metavar="ID",
                      help="only these objects (repeatable)")
    trig.add_argument("--idempotency-key", help="the same key again returns the first batch")
    _wait_options(trig)
    run = sub.add_parser("run", parents=[common], help="start a pipeline run")
    run.add_argument("pipeline", help="pipeline id or alias")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--incremental", dest="incremental", action="store_const", const=True, default=None)
    mode.add_argument("--full", dest="incremental", action="store_const", const=False)
    _wait_options(run)
    status = sub.add_parser("status", parents=[common], help="show a batch (bat_…), run (run_…) or task (tsk_…)")
    status.add_argument("id")
    status.add_argument("--json", action="store_true", help="print the API's JSON as is")
    apply = sub.add_parser("apply", parents=[common], help="create or update resources from a YAML or JSON spec")
    apply.add_argument("file")
    demo = sub.add_parser("demo", help="start everything, load generated data, run a 3-tier DAG and a "
                                       "pipeline, print a summary")
    demo.add_argument("--objects", type=int, default=3000)
    demo.add_argument("--keep", action="store_true", help="keep everything running afterwards until Ctrl-C")
    demo.add_argument("--port", type=int, default=None)
    demo.add_argument("--concurrency", type=int, default=2)
    sub.add_parser("reseal", help="re-encrypt every stored connection/webhook secret with the first "
                                  "SLUICE_SECRET_KEY (after adding a key; needs MONGO_URL)")
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "up": cmd_up, "trigger": cmd_trigger, "run": cmd_run, "status": cmd_status, "apply": cmd_apply,
    "demo": cmd_demo, "reseal": cmd_reseal,
    "api": lambda a: _exec(api_cmd(a.port, a.workers, a.threads, a.host)),
    "worker": lambda a: _exec(worker_cmd(a.queues.split(","), a.concurrency, a.pool)),
    "beat": lambda a: _exec(beat_cmd(a.schedule)),
    "flower": lambda a: _exec(flower_cmd(a.port)),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except Exception as exc:  # noqa: BLE001 - our two error kinds become readable messages
        from cli.errors import exit_code, format_error
        from cli.spec import SpecError
        from sluice.errors import SluiceError

        if isinstance(exc, SluiceError):
            print(format_error(exc), file=sys.stderr, flush=True)
            return exit_code(exc)
        from cli.localservices import ServiceStartError

        if isinstance(exc, ServiceStartError):
            print(f"error: cannot start the local services: {exc}", file=sys.stderr)
            return 3
        if isinstance(exc, SpecError):
            print(f"error: {exc.message}", file=sys.stderr)
            for d in exc.details:
                print(f"  {d['path']}: {d['message']}" if d.get("path") else f"  {d['message']}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    raise SystemExit(main())
